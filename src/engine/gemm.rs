//! The matrix products of the fused dense layers: small f32 products with one summation
//! order on every CPU.
//!
//! The layers of NCF, MLP and the two towers multiply a batch (64–2048 rows) by weights
//! of 10–256 columns, forward and backward. candle's CPU kernel (the `gemm` crate) uses
//! 256-bit vectors on stable Rust even where the CPU has 512-bit ones, and its blocking
//! is made for large matrices. Here each output is one fused multiply-add chain over
//! `k = 0, 1, …` in order, computed by register tiles of 6 rows × 2 vectors:
//!
//! - with AVX-512 (16 lanes) where the CPU has it,
//! - with AVX2 and FMA (8 lanes) where it has those,
//! - with `f32::mul_add` in a plain loop elsewhere.
//!
//! Because a fused multiply-add rounds once whatever the vector width, and each output's
//! chain is the same in all three, **the three give the same bits**: a seeded run
//! trains to the same numbers on any of these CPUs (a test checks the kernels against the
//! plain loop bit for bit).
//!
//! Operands are read through their strides, so a transposed view needs no copy by the
//! caller. The right operand is read in place when its rows are contiguous and copied
//! row-major otherwise (O(k·n), against the product's O(m·k·n)); only a last column panel
//! narrower than a tile is copied zero-padded.

/// A 2-d f32 operand: `values[offset + i · row_stride + j · col_stride]` is element
/// `(i, j)` of a `rows × cols` matrix.
#[derive(Debug, Clone, Copy)]
pub struct Strided<'a> {
    /// The storage the matrix lives in.
    pub values: &'a [f32],
    /// Index of element `(0, 0)`.
    pub offset: usize,
    /// Rows.
    pub rows: usize,
    /// Columns.
    pub cols: usize,
    /// Distance between rows.
    pub row_stride: usize,
    /// Distance between columns.
    pub col_stride: usize,
}

impl Strided<'_> {
    /// Whether every element lies inside `values`.
    fn in_bounds(&self) -> bool {
        if self.rows == 0 || self.cols == 0 {
            return true;
        }
        let last = (self.rows - 1)
            .checked_mul(self.row_stride)
            .and_then(|r| (self.cols - 1).checked_mul(self.col_stride)?.checked_add(r))
            .and_then(|d| d.checked_add(self.offset));
        last.is_some_and(|last| last < self.values.len())
    }

    /// Element `(i, j)`; `i`, `j` inside the matrix, checked by [`Strided::in_bounds`].
    #[inline]
    fn at(&self, i: usize, j: usize) -> f32 {
        self.values[self.offset + i * self.row_stride + j * self.col_stride]
    }
}

/// Why a product could not be formed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GemmError {
    /// `a`'s columns are not `b`'s rows.
    #[error("matmul: ({0}, {1}) times ({2}, {3})")]
    Shapes(usize, usize, usize, usize),
    /// An operand's strides reach outside its storage.
    #[error("matmul: an operand's strides reach outside its storage")]
    OutOfBounds,
}

/// Rows per register tile.
const MR: usize = 6;

/// The instruction set [`matmul`] uses on this CPU: `"AVX-512"`, `"AVX2+FMA"` or
/// `"plain"`, for reports that quote timings.
pub fn kernel_name() -> &'static str {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            return "AVX-512";
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            return "AVX2+FMA";
        }
    }
    "plain"
}

/// `a · b`, row-major `(a.rows, b.cols)`.
pub fn matmul(a: Strided<'_>, b: Strided<'_>) -> Result<Vec<f32>, GemmError> {
    if a.cols != b.rows {
        return Err(GemmError::Shapes(a.rows, a.cols, b.rows, b.cols));
    }
    if !a.in_bounds() || !b.in_bounds() {
        return Err(GemmError::OutOfBounds);
    }
    let (m, n) = (a.rows, b.cols);
    let mut c = vec![0.0f32; m * n];
    if m == 0 || n == 0 {
        return Ok(c);
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU has AVX-512F, checked just above; both operands were
            // checked to lie inside their storage and `c` is m × n.
            unsafe { avx512::product(a, &Panels::of(b), &mut c) };
            return Ok(c);
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above, for AVX2 and FMA.
            unsafe { avx2::product(a, &Panels::of(b), &mut c) };
            return Ok(c);
        }
    }
    plain(a, b, &mut c);
    Ok(c)
}

/// The right operand with unit column stride, as the kernels read it: `b` itself when its
/// rows are contiguous, else a row-major copy. Element `(p, j)` is
/// `values[offset + p · row_stride + j]`.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
struct Panels<'a> {
    values: std::borrow::Cow<'a, [f32]>,
    offset: usize,
    row_stride: usize,
    rows: usize,
    cols: usize,
}

#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
impl<'a> Panels<'a> {
    fn of(b: Strided<'a>) -> Self {
        if b.col_stride == 1 {
            return Panels {
                values: std::borrow::Cow::Borrowed(b.values),
                offset: b.offset,
                row_stride: b.row_stride,
                rows: b.rows,
                cols: b.cols,
            };
        }
        // A transposed view (a weight read as its transpose): copied in blocks of
        // BLOCK × BLOCK, each column of the view read as the contiguous storage row it is,
        // so that the block being written stays in the first-level cache. Column by
        // column over the whole matrix, every write missed it: the copies took a third of
        // a two-tower step.
        const BLOCK: usize = 16;
        let (rows, cols) = (b.rows, b.cols);
        let mut out = vec![0.0f32; rows * cols];
        for p0 in (0..rows).step_by(BLOCK) {
            let p1 = (p0 + BLOCK).min(rows);
            for j in 0..cols {
                if b.row_stride == 1 {
                    let start = b.offset + j * b.col_stride;
                    for (p, &v) in (p0..p1).zip(&b.values[start + p0..start + p1]) {
                        out[p * cols + j] = v;
                    }
                } else {
                    for p in p0..p1 {
                        out[p * cols + j] = b.at(p, j);
                    }
                }
            }
        }
        Panels {
            values: std::borrow::Cow::Owned(out),
            offset: 0,
            row_stride: b.cols,
            rows: b.rows,
            cols: b.cols,
        }
    }

    /// Columns `j..j + width` of every row, zero-padded to `width`, row-major: the last
    /// panel when `cols` is not a multiple of the tile width.
    fn padded(&self, j: usize, width: usize) -> Vec<f32> {
        let valid = (self.cols - j).min(width);
        let mut out = vec![0.0f32; self.rows * width];
        for (p, row) in out.chunks_mut(width).enumerate() {
            let start = self.offset + p * self.row_stride + j;
            row[..valid].copy_from_slice(&self.values[start..start + valid]);
        }
        out
    }
}

/// The reference: each output one `mul_add` chain over `k` in order.
fn plain(a: Strided<'_>, b: Strided<'_>, c: &mut [f32]) {
    let n = b.cols;
    for i in 0..a.rows {
        for j in 0..n {
            let mut acc = 0.0f32;
            for p in 0..a.cols {
                acc = a.at(i, p).mul_add(b.at(p, j), acc);
            }
            c[i * n + j] = acc;
        }
    }
}

/// Generates a kernel module for one vector width: the same code with vectors of
/// `$lanes` floats, two vectors per tile row.
macro_rules! kernel {
    ($name:ident, $feature:literal, $lanes:literal, $vec:ty,
     $zero:path, $load:path, $store:path, $set1:path, $fmadd:path) => {
        #[cfg(target_arch = "x86_64")]
        mod $name {
            use super::{MR, Panels, Strided};
            use std::arch::x86_64::*;

            /// Columns per tile: two vectors.
            const NR: usize = 2 * $lanes;

            /// `c = a · b`, `c` row-major `a.rows × b.cols`.
            ///
            /// # Safety
            /// The CPU must have this kernel's instructions; every element of `a` must lie
            /// inside its storage and `c` must hold `a.rows × b.cols` values.
            #[target_feature(enable = $feature)]
            pub(super) unsafe fn product(a: Strided<'_>, b: &Panels<'_>, c: &mut [f32]) {
                let (m, n) = (a.rows, b.cols);
                // A column panel of `b` (k × NR) stays in cache while every row block of
                // `a` passes it.
                for j in (0..n).step_by(NR) {
                    let tail;
                    let (panel, start, stride) = if j + NR <= n {
                        (&b.values[..], b.offset + j, b.row_stride)
                    } else {
                        tail = b.padded(j, NR);
                        (&tail[..], 0, NR)
                    };
                    let panel = Panel {
                        values: panel,
                        start,
                        stride,
                        rows: b.rows,
                    };
                    let mut i = 0;
                    while i + MR <= m {
                        // SAFETY: rows i..i + MR exist; the caller's CPU has the feature.
                        unsafe { tile::<MR>(a, &panel, c, i, j, n) };
                        i += MR;
                    }
                    // SAFETY: as above, for the remaining rows.
                    unsafe {
                        match m - i {
                            5 => tile::<5>(a, &panel, c, i, j, n),
                            4 => tile::<4>(a, &panel, c, i, j, n),
                            3 => tile::<3>(a, &panel, c, i, j, n),
                            2 => tile::<2>(a, &panel, c, i, j, n),
                            1 => tile::<1>(a, &panel, c, i, j, n),
                            _ => {}
                        }
                    }
                }
            }

            /// NR columns of the right operand: row `p` is
            /// `values[start + p · stride ..][..NR]`.
            struct Panel<'a> {
                values: &'a [f32],
                start: usize,
                stride: usize,
                rows: usize,
            }

            /// Rows `i..i + R`, columns `j..j + NR` of `c` (those below `n`).
            ///
            /// # Safety
            /// As [`product`], with rows `i..i + R` inside `a`.
            #[target_feature(enable = $feature)]
            unsafe fn tile<const R: usize>(
                a: Strided<'_>,
                b: &Panel<'_>,
                c: &mut [f32],
                i: usize,
                j: usize,
                n: usize,
            ) {
                let mut acc: [[$vec; 2]; R] = [[$zero(); 2]; R];
                let rows: [usize; R] = std::array::from_fn(|r| a.offset + (i + r) * a.row_stride);
                for p in 0..b.rows {
                    let row = &b.values[b.start + p * b.stride..][..NR];
                    // SAFETY: `row` holds NR = two vectors of floats.
                    let (b0, b1) =
                        unsafe { ($load(row.as_ptr()), $load(row.as_ptr().add($lanes))) };
                    let column = p * a.col_stride;
                    for (acc, &row_start) in acc.iter_mut().zip(&rows) {
                        // SAFETY: element (i + r, p) of `a`, inside its storage (the
                        // caller checked every element's index).
                        let x = $set1(unsafe { *a.values.get_unchecked(row_start + column) });
                        acc[0] = $fmadd(x, b0, acc[0]);
                        acc[1] = $fmadd(x, b1, acc[1]);
                    }
                }
                let valid = (n - j).min(NR);
                for (r, acc) in acc.iter().enumerate() {
                    let at = (i + r) * n + j;
                    if valid == NR {
                        let row = &mut c[at..at + NR];
                        // SAFETY: `row` holds NR = two vectors of floats.
                        unsafe {
                            $store(row.as_mut_ptr(), acc[0]);
                            $store(row.as_mut_ptr().add($lanes), acc[1]);
                        }
                    } else {
                        let mut out = [0.0f32; NR];
                        // SAFETY: `out` holds NR = two vectors of floats.
                        unsafe {
                            $store(out.as_mut_ptr(), acc[0]);
                            $store(out.as_mut_ptr().add($lanes), acc[1]);
                        }
                        c[at..at + valid].copy_from_slice(&out[..valid]);
                    }
                }
            }
        }
    };
}

kernel!(
    avx512,
    "avx512f",
    16,
    __m512,
    _mm512_setzero_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_set1_ps,
    _mm512_fmadd_ps
);
kernel!(
    avx2,
    "avx2,fma",
    8,
    __m256,
    _mm256_setzero_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_set1_ps,
    _mm256_fmadd_ps
);

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn random(rng: &mut impl Rng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.random_range(-1.0..1.0)).collect()
    }

    fn row_major(values: &[f32], rows: usize, cols: usize) -> Strided<'_> {
        Strided {
            values,
            offset: 0,
            rows,
            cols,
            row_stride: cols,
            col_stride: 1,
        }
    }

    /// The same matrix read as the transpose of a `cols × rows` row-major one.
    fn transposed(values: &[f32], rows: usize, cols: usize) -> Strided<'_> {
        Strided {
            values,
            offset: 0,
            rows,
            cols,
            row_stride: 1,
            col_stride: rows,
        }
    }

    fn reference(a: Strided<'_>, b: Strided<'_>) -> Vec<f32> {
        let mut c = vec![0.0; a.rows * b.cols];
        plain(a, b, &mut c);
        c
    }

    #[test]
    fn a_small_product_by_hand() {
        // [1 2 3; 4 5 6] · [1 0; 0 1; 1 1] = [4 5; 10 11].
        let a = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
        let b = [1.0, 0.0, 0.0, 1.0, 1.0, 1.0];
        let c = matmul(row_major(&a, 2, 3), row_major(&b, 3, 2)).unwrap();
        assert_eq!(c, [4.0, 5.0, 10.0, 11.0]);
    }

    #[test]
    fn every_kernel_gives_the_plain_loops_bits_at_every_shape() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        // Tile remainders in rows (1–5 over a multiple of 6) and columns (not a multiple
        // of 8, 16 or 32), the layers' own shapes, and a zero inner size.
        for (m, k, n) in [
            (1, 1, 1),
            (7, 3, 5),
            (64, 10, 128),
            (64, 128, 32),
            (13, 64, 37),
            (128, 64, 10),
            (6, 256, 33),
            (4, 0, 3),
        ] {
            let av = random(&mut rng, m * k);
            let bv = random(&mut rng, k * n);
            for (a, b) in [
                (row_major(&av, m, k), row_major(&bv, k, n)),
                (transposed(&av, m, k), transposed(&bv, k, n)),
            ] {
                let want = reference(a, b);
                let got = matmul(a, b).unwrap();
                assert_eq!(got, want, "{m}×{k} · {k}×{n}");
            }
        }
    }

    #[test]
    fn views_with_an_offset_and_wide_rows_read_only_their_elements() {
        // Columns 1..4 of rows 1..3 of a 4 × 6 matrix, and the transpose of the same
        // block: the values around the view must not leak into the product.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let store = random(&mut rng, 24);
        let view = Strided {
            values: &store,
            offset: 7,
            rows: 2,
            cols: 3,
            row_stride: 6,
            col_stride: 1,
        };
        let view_t = Strided {
            rows: 3,
            cols: 2,
            row_stride: 1,
            col_stride: 6,
            ..view
        };
        let dense: Vec<f32> = (0..2)
            .flat_map(|i| (0..3).map(move |j| (i, j)))
            .map(|(i, j)| store[7 + 6 * i + j])
            .collect();
        let dense_t: Vec<f32> = (0..3)
            .flat_map(|i| (0..2).map(move |j| (i, j)))
            .map(|(i, j)| dense[j * 3 + i])
            .collect();
        let want = reference(row_major(&dense, 2, 3), row_major(&dense_t, 3, 2));
        assert_eq!(matmul(view, view_t).unwrap(), want);
        let want_t = reference(row_major(&dense_t, 3, 2), row_major(&dense, 2, 3));
        assert_eq!(matmul(view_t, view).unwrap(), want_t);
    }

    #[test]
    fn each_vector_kernel_matches_the_plain_loop() {
        // `matmul` picks the widest kernel; call the others directly where the CPU has
        // them, so the AVX2 kernel is checked on AVX-512 machines too.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let (m, k, n) = (23, 19, 45);
        let (av, bv) = (random(&mut rng, m * k), random(&mut rng, k * n));
        let (a, b) = (row_major(&av, m, k), row_major(&bv, k, n));
        let want = reference(a, b);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                let mut c = vec![0.0; m * n];
                // SAFETY: checked just above; panels shaped as the kernel needs.
                unsafe { avx2::product(a, &Panels::of(b), &mut c) };
                assert_eq!(c, want, "avx2");
            }
            if std::arch::is_x86_feature_detected!("avx512f") {
                let mut c = vec![0.0; m * n];
                // SAFETY: as above.
                unsafe { avx512::product(a, &Panels::of(b), &mut c) };
                assert_eq!(c, want, "avx512");
            }
        }
    }

    #[test]
    fn mismatched_or_out_of_bounds_operands_are_errors() {
        let v = [0.0; 6];
        assert_eq!(
            matmul(row_major(&v, 2, 3), row_major(&v, 2, 3)),
            Err(GemmError::Shapes(2, 3, 2, 3))
        );
        let mut reach = row_major(&v, 2, 3);
        reach.offset = 1;
        assert_eq!(
            matmul(reach, row_major(&v, 3, 2)),
            Err(GemmError::OutOfBounds)
        );
    }
}
