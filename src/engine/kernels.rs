//! What exp's custom CPU operations share: reading candle's CPU storage as plain slices.
//!
//! The fused ops (losses in `engine::loss`, the factor models' row dot product in
//! `engine::row_dot`, the bias add and activations in `engine::activation`) all start by
//! checking that an operand is contiguous f32 storage and taking its values
//! ([`f32_values`], [`f32_pair`]). The fused dense layers (`engine::dense`) also multiply
//! matrices inside their ops,
//! through [`matmul`], which runs this crate's own small-product kernels ([`super::gemm`])
//! on f32 storage.

use candle_core::backend::BackendStorage;
use candle_core::{CpuStorage, Layout, Result, Storage, bail};

use crate::engine::gemm::{self, Strided};

/// The values of a contiguous f32 operand of op `op`.
pub(crate) fn f32_values<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let (CpuStorage::F32(v), Some((a, b))) = (s, l.contiguous_offsets()) else {
        bail!("{op}: expected contiguous f32 operands");
    };
    Ok(&v[a..b])
}

/// The values of two contiguous f32 operands of op `op` that must be equally long; `what`
/// names them for the error (`("predictions", "targets")`).
pub(crate) fn f32_pair<'a>(
    (s1, l1): (&'a CpuStorage, &Layout),
    (s2, l2): (&'a CpuStorage, &Layout),
    op: &str,
    (first, second): (&str, &str),
) -> Result<(&'a [f32], &'a [f32])> {
    let (a, b) = (f32_values(s1, l1, op)?, f32_values(s2, l2, op)?);
    if a.len() != b.len() {
        bail!("{op}: {} {first} for {} {second}", a.len(), b.len());
    }
    Ok((a, b))
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

/// `lhs · rhs` for 2-d f32 operands `(m, k)` and `(k, n)` of any strides (a transposed
/// layout reads a matrix as its transpose without copying), row-major `(m, n)`.
///
/// f32 operands go to [`super::gemm`], whose kernels give the same bits on every CPU;
/// other types to candle's CPU matrix product. Either way the storages are used directly,
/// without allocating tensors or recording a graph node.
pub(crate) fn matmul(
    lhs: &CpuStorage,
    lhs_l: &Layout,
    rhs: &CpuStorage,
    rhs_l: &Layout,
) -> Result<Vec<f32>> {
    let (&[m, k], &[k2, n]) = (lhs_l.dims(), rhs_l.dims()) else {
        bail!(
            "matmul: expected 2-d operands, got {:?} and {:?}",
            lhs_l.dims(),
            rhs_l.dims()
        );
    };
    if k != k2 {
        bail!("matmul: ({m}, {k}) times ({k2}, {n})");
    }
    if let (CpuStorage::F32(a), CpuStorage::F32(b)) = (lhs, rhs) {
        let strided = |values, l: &Layout, (rows, cols)| -> Result<Strided<'_>> {
            let &[row_stride, col_stride] = l.stride() else {
                bail!("matmul: expected 2-d strides, got {:?}", l.stride());
            };
            Ok(Strided {
                values,
                offset: l.start_offset(),
                rows,
                cols,
                row_stride,
                col_stride,
            })
        };
        let (a, b) = (strided(a, lhs_l, (m, k))?, strided(b, rhs_l, (k, n))?);
        return gemm::matmul(a, b).map_err(|e| candle_core::Error::Msg(e.to_string()));
    }
    match lhs.matmul(rhs, (1, m, n, k), lhs_l, rhs_l)? {
        CpuStorage::F32(out) => Ok(out),
        _ => bail!("matmul: expected f32 operands"),
    }
}

/// The CPU storage of a tensor's storage, or an error naming op `op` on other devices.
pub(crate) fn cpu_storage<'a>(s: &'a Storage, op: &str) -> Result<&'a CpuStorage> {
    match s {
        Storage::Cpu(s) => Ok(s),
        _ => bail!("{op}: expected a CPU tensor"),
    }
}

/// Hints the CPU to load `values` into cache, one prefetch per 64-byte line (a no-op off
/// x86-64). Loops over the rows of a large embedding table miss the cache at every row;
/// asking for rows a few iterations ahead overlaps those misses with useful work.
#[inline]
pub(crate) fn prefetch<T>(values: &[T]) {
    #[cfg(target_arch = "x86_64")]
    for line in values.chunks((64 / size_of::<T>().max(1)).max(1)) {
        // SAFETY: prefetching is a hint that never faults, whatever the address; the
        // pointer comes from a live slice anyway.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                line.as_ptr().cast(),
            )
        };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = values;
}
