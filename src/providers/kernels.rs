//! Numeric kernels: the encoder's GELU, softmax and layer norm, and the vector store's dot
//! products.
//!
//! Written as plain loops the compiler vectorises. The baseline x86-64 target only has SSE2, so
//! each kernel is compiled a second time with AVX2+FMA enabled and picked at run time: the
//! binary stays portable and the common server CPU gets 8-wide lanes.

/// Generates `pub fn $name(args)` that runs `$body` compiled for AVX2+FMA when the CPU has it.
macro_rules! multiversion {
    ($(#[$doc:meta])* pub fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                unsafe fn avx2($($arg: $ty),*) { body($($arg),*) }
                if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
                    // SAFETY: the CPU supports the features `avx2` was compiled for.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

const LANES: usize = 16;

/// e^x with a relative error under 2e-7 (Cephes `expf`): branch-free so loops over it vectorise.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + 0.5).floor();
    let r = x - n * 0.693_359_4 + n * 2.121_944_4e-4;
    let mut p = 1.987_569_1e-4_f32;
    p = p * r + 1.398_2e-3;
    p = p * r + 8.333_452e-3;
    p = p * r + 4.166_579_6e-2;
    p = p * r + 0.166_666_65;
    p = p * r + 0.5;
    let e = p * r * r + r + 1.0;
    // 2^n from n's bits: adding 1.5·2²³ leaves the integer n in the low mantissa bits. (`n as
    // i32` would be a saturating cast, which the compiler does lane by lane.)
    let n = ((n + 12_582_912.0).to_bits() as i32).wrapping_sub(0x4B40_0000);
    e * f32::from_bits((n.wrapping_add(127) << 23) as u32)
}

/// erf(x) with an absolute error under 1.5e-7 (Abramowitz & Stegun 7.1.26).
#[inline(always)]
fn erf(x: f32) -> f32 {
    let a = x.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * a);
    let poly = ((((1.061_405_4 * t - 1.453_152_1) * t + 1.421_413_8) * t - 0.284_496_74) * t + 0.254_829_6) * t;
    (1.0 - poly * exp(-a * a)).copysign(x)
}

/// The largest value (lane-wise, so it vectorises; `f32::max` in a fold does not).
#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let mut acc = [f32::NEG_INFINITY; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail = chunks.remainder().iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    for c in chunks {
        for i in 0..LANES {
            acc[i] = if c[i] > acc[i] { c[i] } else { acc[i] };
        }
    }
    acc.iter().fold(tail, |m, &v| m.max(v))
}

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let mut acc = [0.0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for i in 0..LANES {
            acc[i] += c[i];
        }
    }
    acc.iter().sum::<f32>() + tail
}

multiversion! {
    /// BERT's exact GELU, `x/2 · (1 + erf(x/√2))`, in place.
    pub fn gelu(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

multiversion! {
    /// Softmax of each `width`-long row of `xs`, in place.
    pub fn softmax_rows(xs: &mut [f32], width: usize) {
        for row in xs.chunks_exact_mut(width) {
            let max = max(row);
            for v in row.iter_mut() {
                *v = exp(*v - max);
            }
            let inv = 1.0 / sum(row);
            for v in row.iter_mut() {
                *v *= inv;
            }
        }
    }
}

multiversion! {
    /// `x = LayerNorm(x + residual)` for each `gamma.len()`-wide row.
    pub fn add_layer_norm(xs: &mut [f32], residual: &[f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let width = gamma.len();
        for (row, res) in xs.chunks_exact_mut(width).zip(residual.chunks_exact(width)) {
            for (v, r) in row.iter_mut().zip(res) {
                *v += r;
            }
            normalize(row, gamma, beta, eps);
        }
    }
}

multiversion! {
    /// `x = LayerNorm(x)` for each `gamma.len()`-wide row.
    pub fn layer_norm(xs: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        for row in xs.chunks_exact_mut(gamma.len()) {
            normalize(row, gamma, beta, eps);
        }
    }
}

#[inline(always)]
fn normalize(row: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    let n = row.len() as f32;
    let mean = sum(row) / n;
    for v in row.iter_mut() {
        *v -= mean;
    }
    let mut sq = [0.0f32; LANES];
    for c in row.chunks_exact(LANES) {
        for i in 0..LANES {
            sq[i] += c[i] * c[i];
        }
    }
    let tail: f32 = row.chunks_exact(LANES).remainder().iter().map(|v| v * v).sum();
    let inv = 1.0 / ((sq.iter().sum::<f32>() + tail) / n + eps).sqrt();
    for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
        *v = *v * inv * g + b;
    }
}

multiversion! {
    /// `out[i] = rows[i] · query` for each `query.len()`-wide row.
    pub fn dot_rows(rows: &[f32], query: &[f32], out: &mut [f32]) {
        for (row, o) in rows.chunks_exact(query.len()).zip(out.iter_mut()) {
            let mut acc = [0.0f32; LANES];
            let pairs = row.chunks_exact(LANES).zip(query.chunks_exact(LANES));
            for (r, q) in pairs {
                for i in 0..LANES {
                    acc[i] += r[i] * q[i];
                }
            }
            let done = row.len() / LANES * LANES;
            let tail: f32 = row[done..].iter().zip(&query[done..]).map(|(a, b)| a * b).sum();
            *o = acc.iter().sum::<f32>() + tail;
        }
    }
}

multiversion! {
    /// `out[r * m + j] = rows[r] · queries[j]` for each `width`-wide row and each of the `m`
    /// queries (`queries` is `m` rows of `width`): a row stays in L1 while every query meets it,
    /// so a few queries against a big matrix read the matrix once.
    pub fn dot_rows_many(rows: &[f32], queries: &[f32], width: usize, out: &mut [f32]) {
        let m = queries.len() / width;
        let done = width / LANES * LANES;
        for (row, o) in rows.chunks_exact(width).zip(out.chunks_exact_mut(m)) {
            for (query, o) in queries.chunks_exact(width).zip(o.iter_mut()) {
                let mut acc = [0.0f32; LANES];
                for (r, q) in row.chunks_exact(LANES).zip(query.chunks_exact(LANES)) {
                    for i in 0..LANES {
                        acc[i] += r[i] * q[i];
                    }
                }
                let tail: f32 = row[done..].iter().zip(&query[done..]).map(|(a, b)| a * b).sum();
                *o = acc.iter().sum::<f32>() + tail;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_and_erf_match_the_standard_library() {
        for i in -2000..2000 {
            let x = i as f32 / 100.0;
            let e = exp(x);
            assert!(((e - x.exp()) / x.exp()).abs() < 1e-6, "exp({x}) = {e}");
        }
        // erf via the libm-free identity is checked at known points.
        for (x, want) in [(0.0f32, 0.0f32), (0.5, 0.520_499_9), (1.0, 0.842_700_8), (-2.0, -0.995_322_3), (4.0, 1.0)] {
            assert!((erf(x) - want).abs() < 3e-7, "erf({x}) = {}", erf(x));
        }
    }

    #[test]
    fn softmax_of_wide_rows_matches_the_definition() {
        // 40 wide: two whole 16-lane chunks and a tail; the largest value in a lane, then in the tail.
        for peak in [5usize, 37] {
            let row: Vec<f32> = (0..40).map(|i| if i == peak { 9.0 } else { (i as f32 * 0.37).sin() * 4.0 }).collect();
            let mut got = row.clone();
            softmax_rows(&mut got, 40);
            let total: f64 = row.iter().map(|&v| (v as f64).exp()).sum();
            for (g, v) in got.iter().zip(&row) {
                assert!((*g as f64 - (*v as f64).exp() / total).abs() < 1e-6);
            }
        }
    }

    #[test]
    fn softmax_rows_sum_to_one_and_keep_order() {
        let mut xs = vec![1.0, 2.0, 3.0, -50.0, 0.0, 50.0];
        softmax_rows(&mut xs, 3);
        assert!((xs[..3].iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(xs[0] < xs[1] && xs[1] < xs[2]);
        assert!(xs[5] > 0.999_999 && xs[3] >= 0.0);
    }

    #[test]
    fn dot_rows_many_matches_plain_sums_for_any_number_of_queries() {
        let width = 37; // not a multiple of the lanes: the tail is summed too
        let rows: Vec<f32> = (0..5 * width).map(|i| (i % 7) as f32 - 3.0).collect();
        for m in [1usize, 3, 4, 7, 9] {
            let queries: Vec<f32> = (0..m * width).map(|i| (i % 11) as f32 / 10.0).collect();
            let mut out = vec![0.0; 5 * m];
            dot_rows_many(&rows, &queries, width, &mut out);
            for r in 0..5 {
                for j in 0..m {
                    let want: f32 = (0..width).map(|k| rows[r * width + k] * queries[j * width + k]).sum();
                    assert!((out[r * m + j] - want).abs() < 1e-3, "m {m}, row {r}, query {j}: {} vs {want}", out[r * m + j]);
                }
            }
        }
    }

    #[test]
    fn dot_rows_matches_a_plain_sum() {
        let rows: Vec<f32> = (0..3 * 37).map(|i| (i % 7) as f32 - 3.0).collect();
        let query: Vec<f32> = (0..37).map(|i| i as f32 / 10.0).collect();
        let mut out = vec![0.0; 3];
        dot_rows(&rows, &query, &mut out);
        for (i, got) in out.iter().enumerate() {
            let want: f32 = rows[i * 37..(i + 1) * 37].iter().zip(&query).map(|(a, b)| a * b).sum();
            assert!((got - want).abs() < 1e-4, "row {i}: {got} vs {want}");
        }
    }

    #[test]
    fn layer_norm_centres_and_scales() {
        let mut xs: Vec<f32> = (0..40).map(|i| i as f32).collect();
        layer_norm(&mut xs, &[1.0; 20], &[0.5; 20], 1e-12);
        let row = &xs[..20];
        assert!((row.iter().sum::<f32>() / 20.0 - 0.5).abs() < 1e-5);
        let var = row.iter().map(|v| (v - 0.5) * (v - 0.5)).sum::<f32>() / 20.0;
        assert!((var - 1.0).abs() < 1e-4);
    }
}
