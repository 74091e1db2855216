//! Linear layers on 8-bit integers (AVX-512 VNNI), for CPUs that have it.
//!
//! Why: the encoder's time is its matrix products, and `vpdpbusd` does 64 byte products per
//! instruction where an f32 FMA does 16. Weights are quantized once at load, per output row
//! (symmetric, i8); each input row is quantized when it arrives, over its own minimum to
//! maximum (u8: GELU's outputs are nearly all above -0.17, so a symmetric range would waste
//! half the levels), so a row's result never depends on which other rows share the batch.
//! The i32 sums are exact; the only loss is the rounding of weights and inputs to 255 levels
//! per row, measured by `--bench encoder` against the f32 pass (cosine of the two vectors,
//! SciFact nDCG@10).
//!
//! Layout: weights are packed in panels of 64 outputs; within a panel, for each group of 4
//! inputs, 64 × 4 bytes, which is exactly what four `vpdpbusd` of one broadcast input word
//! consume. A tile is `MR` rows × 64 outputs held in 4·MR registers over the whole input width.

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::*;

use rayon::prelude::*;

/// Outputs per packed panel (four 16-lane registers).
const PANEL: usize = 64;
/// Rows per register tile: 6 × 4 accumulators + 4 weight registers + 1 broadcast fit in 32.
const MR: usize = 6;
/// Rows per parallel task: enough to reuse each panel from cache, few enough to share work.
const TASK_ROWS: usize = 8 * MR;

/// Whether this CPU can run the 8-bit path.
pub fn supported() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") && is_x86_feature_detected!("avx512vnni")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// A linear layer's weights, quantized and packed. Built only when [`supported`].
pub struct QuantLinear {
    inputs: usize,
    outputs: usize,
    /// Inputs rounded up to a multiple of 16 (zero weights, so the input's padding is inert).
    width: usize,
    panels: usize,
    packed: Vec<i8>,
    /// Per output (padded to whole panels): the weight row's scale, the sum of its quantized
    /// weights (what an input row's zero point adds), and the bias.
    scale: Vec<f32>,
    sums: Vec<f32>,
    bias: Vec<f32>,
}

impl QuantLinear {
    /// `weight` is `[outputs, inputs]` row-major (PyTorch's layout).
    pub fn new(weight: &[f32], bias: &[f32], inputs: usize, outputs: usize) -> Self {
        assert_eq!(weight.len(), inputs * outputs);
        let width = inputs.div_ceil(16) * 16;
        let panels = outputs.div_ceil(PANEL);
        let padded = panels * PANEL;
        let mut packed = vec![0i8; panels * width * PANEL];
        let (mut scale, mut sums, mut bias_p) = (vec![0.0f32; padded], vec![0.0f32; padded], vec![0.0f32; padded]);
        for o in 0..outputs {
            let row = &weight[o * inputs..(o + 1) * inputs];
            let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let s = if max > 0.0 { max / 127.0 } else { 1.0 };
            let (panel, col) = (o / PANEL, o % PANEL);
            let mut sum = 0i32;
            for (k, v) in row.iter().enumerate() {
                let q = (v / s).round().clamp(-127.0, 127.0) as i8;
                sum += q as i32;
                packed[((panel * (width / 4) + k / 4) * PANEL + col) * 4 + k % 4] = q;
            }
            scale[o] = s;
            sums[o] = sum as f32;
            bias_p[o] = bias[o];
        }
        Self { inputs, outputs, width, panels, packed, scale, sums, bias: bias_p }
    }

    /// `out[rows, outputs] = input[rows, inputs] · weightᵀ + bias`, row tasks in parallel on
    /// the current rayon pool when there are several.
    pub fn forward(&self, input: &[f32], out: &mut [f32], rows: usize) {
        assert_eq!(input.len(), rows * self.inputs);
        assert_eq!(out.len(), rows * self.outputs);
        let (ins, outs) = (self.inputs, self.outputs);
        input.par_chunks(TASK_ROWS * ins).zip(out.par_chunks_mut(TASK_ROWS * outs)).for_each_init(
            || (Vec::new(), Vec::new()),
            |(bytes, scales), (input, out)| {
                let n = input.len() / ins;
                bytes.clear();
                bytes.resize(n * self.width, 0u8);
                scales.clear();
                scales.resize(n, (0.0f32, 0.0f32));
                // SAFETY: `supported()` was true when this layer was built (see Bert::load);
                // the buffers have the lengths the kernels index.
                unsafe {
                    for r in 0..n {
                        scales[r] = quantize_row(&input[r * ins..(r + 1) * ins], &mut bytes[r * self.width..(r + 1) * self.width]);
                    }
                    for panel in 0..self.panels {
                        let mut r = 0;
                        while r < n {
                            let take = (n - r).min(MR);
                            match take {
                                6 => self.tile::<6>(bytes, scales, out, r, panel),
                                5 => self.tile::<5>(bytes, scales, out, r, panel),
                                4 => self.tile::<4>(bytes, scales, out, r, panel),
                                3 => self.tile::<3>(bytes, scales, out, r, panel),
                                2 => self.tile::<2>(bytes, scales, out, r, panel),
                                _ => self.tile::<1>(bytes, scales, out, r, panel),
                            }
                            r += take;
                        }
                    }
                }
            },
        );
    }

    /// Rows `first..first + R` of this task against one panel, written into `out` with the
    /// bias.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    unsafe fn tile<const R: usize>(&self, bytes: &[u8], scales: &[(f32, f32)], out: &mut [f32], first: usize, panel: usize) {
        let groups = self.width / 4;
        let weights = self.packed.as_ptr().add(panel * groups * PANEL * 4);
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        let rows: [*const u8; R] = std::array::from_fn(|i| bytes.as_ptr().add((first + i) * self.width));
        for g in 0..groups {
            let w = weights.add(g * PANEL * 4);
            let w0 = _mm512_loadu_si512(w as *const _);
            let w1 = _mm512_loadu_si512(w.add(64) as *const _);
            let w2 = _mm512_loadu_si512(w.add(128) as *const _);
            let w3 = _mm512_loadu_si512(w.add(192) as *const _);
            for i in 0..R {
                let a = _mm512_set1_epi32((rows[i].add(g * 4) as *const i32).read_unaligned());
                acc[i][0] = _mm512_dpbusd_epi32(acc[i][0], a, w0);
                acc[i][1] = _mm512_dpbusd_epi32(acc[i][1], a, w1);
                acc[i][2] = _mm512_dpbusd_epi32(acc[i][2], a, w2);
                acc[i][3] = _mm512_dpbusd_epi32(acc[i][3], a, w3);
            }
        }
        let base = panel * PANEL;
        let live = (self.outputs - base).min(PANEL);
        for (i, acc) in acc.iter().enumerate() {
            let row = &mut out[(first + i) * self.outputs..(first + i + 1) * self.outputs];
            let (sx, zx) = scales[first + i];
            let (sx, zx) = (_mm512_set1_ps(sx), _mm512_set1_ps(zx));
            for (v, acc) in acc.iter().enumerate() {
                let col = v * 16;
                if col >= live {
                    break;
                }
                let at = base + col;
                // Σ (sx·q + zx)·w = sx·Σ q·w + zx·Σ w, then the weight row's scale and the bias.
                let t = _mm512_fmadd_ps(_mm512_cvtepi32_ps(*acc), sx, _mm512_mul_ps(zx, _mm512_loadu_ps(self.sums.as_ptr().add(at))));
                let y = _mm512_fmadd_ps(t, _mm512_loadu_ps(self.scale.as_ptr().add(at)), _mm512_loadu_ps(self.bias.as_ptr().add(at)));
                let lanes = (live - col).min(16);
                _mm512_mask_storeu_ps(row.as_mut_ptr().add(at), ((1u32 << lanes) - 1) as u16, y);
            }
        }
    }

    #[cfg(not(target_arch = "x86_64"))]
    unsafe fn tile<const R: usize>(&self, _: &[u8], _: &[(f32, f32)], _: &mut [f32], _: usize, _: usize) {
        unreachable!("QuantLinear is only built where supported() is true")
    }
}

/// Quantizes one row to u8 over its range, `x ≈ scale·q + zero`, and returns (scale, zero).
/// What is past `src` in `dst` is left alone (its weights are zero).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw")]
unsafe fn quantize_row(src: &[f32], dst: &mut [u8]) -> (f32, f32) {
    let n = src.len();
    let whole = n / 16 * 16;
    let (mut lo, mut hi) = (_mm512_set1_ps(f32::INFINITY), _mm512_set1_ps(f32::NEG_INFINITY));
    for k in (0..whole).step_by(16) {
        let v = _mm512_loadu_ps(src.as_ptr().add(k));
        lo = _mm512_min_ps(lo, v);
        hi = _mm512_max_ps(hi, v);
    }
    let (mut min, mut max) = (_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
    for &v in &src[whole..] {
        min = min.min(v);
        max = max.max(v);
    }
    if !(min.is_finite() && max.is_finite()) {
        // Not a number anywhere in the row: it contributes nothing rather than garbage.
        dst[..n].fill(0);
        return (0.0, 0.0);
    }
    if max == min {
        dst[..n].fill(0);
        return (0.0, min);
    }
    let scale = (max - min) / 255.0;
    let inv = 1.0 / scale;
    let (minv, invv) = (_mm512_set1_ps(min), _mm512_set1_ps(inv));
    for k in (0..whole).step_by(16) {
        // Rounds to nearest (the default MXCSR mode); in 0..=255 by construction, saturated anyway.
        let q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_sub_ps(_mm512_loadu_ps(src.as_ptr().add(k)), minv), invv));
        _mm_storeu_si128(dst.as_mut_ptr().add(k) as *mut __m128i, _mm512_cvtusepi32_epi8(_mm512_max_epi32(q, _mm512_setzero_si512())));
    }
    for k in whole..n {
        dst[k] = ((src[k] - min) * inv).round_ties_even().clamp(0.0, 255.0) as u8;
    }
    (scale, min)
}

#[cfg(not(target_arch = "x86_64"))]
unsafe fn quantize_row(_: &[f32], _: &mut [u8]) -> (f32, f32) {
    unreachable!("QuantLinear is only built where supported() is true")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(weight: &[f32], bias: &[f32], input: &[f32], ins: usize, outs: usize) -> Vec<f32> {
        input.chunks(ins).flat_map(|x| (0..outs).map(move |o| bias[o] + (0..ins).map(|k| x[k] * weight[o * ins + k]).sum::<f32>())).collect()
    }

    /// Deterministic values in [-1, 1) without a random-number crate.
    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).max(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s as f32 / u32::MAX as f32) * 2.0 - 1.0
            })
            .collect()
    }

    #[test]
    fn matches_the_f32_product_within_quantization_error_for_any_shape() {
        if !supported() {
            eprintln!("skipped: this CPU has no AVX-512 VNNI (the f32 path is used instead)");
            return;
        }
        // Widths not multiples of 16, outputs not whole panels, row counts around the tile
        // and task sizes, a zero row, an offset row, a constant row.
        for (ins, outs, rows) in [(384, 1152, 1), (384, 384, 7), (37, 70, 13), (1536, 384, 49), (16, 64, 6), (100, 5, 50)] {
            let weight = values(ins * outs, 1);
            let bias = values(outs, 2);
            let mut input = values(rows * ins, 3);
            input[..ins].fill(0.0);
            if rows > 2 {
                // A row all on one side of zero (GELU-like), and a constant row.
                input[ins..2 * ins].iter_mut().for_each(|v| *v = *v * 0.5 + 2.5);
                input[2 * ins..3 * ins].fill(0.7);
            }
            let layer = QuantLinear::new(&weight, &bias, ins, outs);
            let mut got = vec![0.0f32; rows * outs];
            rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| layer.forward(&input, &mut got, rows));
            let want = reference(&weight, &bias, &input, ins, outs);
            // Each product's error is at most half a step of each factor: bounded by
            // Σ|x|·Δw + Σ|w|·Δx, about √ins · 2/127 · 0.5 for values in [-1, 1).
            let tolerance = (ins as f32).sqrt() * 0.02;
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                assert!((g - w).abs() <= tolerance, "{ins}×{outs}, rows {rows}: output {i} is {g}, f32 gives {w}");
            }
            for o in 0..outs {
                assert!((got[o] - bias[o]).abs() < 1e-6, "a zero row gives the bias");
            }
        }
    }

    #[test]
    fn a_row_gives_the_same_bits_alone_and_in_a_batch() {
        if !supported() {
            return;
        }
        let (ins, outs, rows) = (384, 384, 30);
        let layer = QuantLinear::new(&values(ins * outs, 4), &values(outs, 5), ins, outs);
        let input = values(rows * ins, 6);
        let mut batch = vec![0.0f32; rows * outs];
        layer.forward(&input, &mut batch, rows);
        for r in [0, 5, 6, 29] {
            let mut alone = vec![0.0f32; outs];
            layer.forward(&input[r * ins..(r + 1) * ins], &mut alone, 1);
            assert_eq!(alone, batch[r * outs..(r + 1) * outs]);
        }
    }
}
