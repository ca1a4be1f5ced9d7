//! What exp's custom CPU operations share: reading candle's CPU storage as plain slices.
//!
//! The fused ops (losses in `train::loss`, the factor models' row dot product in
//! `models::fused_dot`, the dense layers' bias add and activations in `models::layers`)
//! all start by checking that an operand is contiguous f32 storage and taking its values.

use candle_core::{CpuStorage, Layout, Result, bail};

/// The values of a contiguous f32 operand of op `op`.
pub(crate) fn f32_values<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let (CpuStorage::F32(v), Some((a, b))) = (s, l.contiguous_offsets()) else {
        bail!("{op}: expected contiguous f32 operands");
    };
    Ok(&v[a..b])
}

/// The values of a contiguous 2-d f32 operand of op `op`, with its rows and columns.
pub(crate) fn f32_matrix<'a>(
    s: &'a CpuStorage,
    l: &Layout,
    op: &str,
) -> Result<(&'a [f32], usize, usize)> {
    let &[rows, cols] = l.dims() else {
        bail!("{op}: expected a 2-d operand, got shape {:?}", l.dims());
    };
    Ok((f32_values(s, l, op)?, rows, cols))
}
