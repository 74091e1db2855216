//! A BERT encoder forward pass (the architecture of all-MiniLM-L6-v2 and its kin), f32 on the CPU.
//!
//! Why our own and not candle/tract/ort: measured on this project's 2-core target, candle ran at
//! a third of the Python stack's speed and tract slower still, while ort needs an ONNX file that
//! a sentence-transformers folder does not have. A BERT encoder is six matrix products and three
//! element-wise kernels per layer; with a tuned GEMM (`gemm`) and sequences packed end to end
//! (no padding tokens are ever computed, which even PyTorch does not skip) it outruns them all.

use std::collections::HashMap;
use std::path::Path;

use gemm::Parallelism;
use rayon::prelude::*;

use super::int8::{self, QuantLinear};
use crate::providers::kernels;

/// Hyper-parameters read from the model folder's `config.json`.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct BertConfig {
    pub hidden_size: usize,
    pub num_attention_heads: usize,
    pub num_hidden_layers: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f32,
    #[serde(default)]
    pub hidden_act: Option<String>,
}

fn default_eps() -> f32 {
    1e-12
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

/// A linear layer in PyTorch's layout: `weight` is `[out, in]`, row-major.
struct Linear {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    outputs: usize,
    /// The same layer on 8-bit integers, when the model was loaded with `int8` on a CPU that
    /// runs it; then it is used instead of `weight`.
    quant: Option<QuantLinear>,
}

impl Linear {
    fn new(weight: Vec<f32>, bias: Vec<f32>, inputs: usize, outputs: usize, int8: bool) -> Self {
        match int8.then(|| QuantLinear::new(&weight, &bias, inputs, outputs)) {
            // The f32 weights are not read again.
            Some(quant) => Self { weight: Vec::new(), bias, inputs, outputs, quant: Some(quant) },
            None => Self { weight, bias, inputs, outputs, quant: None },
        }
    }
}

struct Layer {
    /// Query, key and value projections stacked into one `[3·hidden, hidden]` product.
    qkv: Linear,
    attn_out: Linear,
    attn_norm: Norm,
    up: Linear,
    down: Linear,
    out_norm: Norm,
}

pub struct Bert {
    config: BertConfig,
    word: Vec<f32>,
    position: Vec<f32>,
    token_type: Vec<f32>,
    embed_norm: Norm,
    layers: Vec<Layer>,
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}")]
    Format(String),
}

/// The tensors of a `.safetensors` file, by name, converted to f32.
struct Tensors {
    bytes: Vec<u8>,
    index: HashMap<String, (String, Vec<usize>, usize, usize)>,
    prefix: String,
}

impl Tensors {
    fn open(path: &Path) -> Result<Self, LoadError> {
        let bytes = std::fs::read(path).map_err(|e| LoadError::Io(path.display().to_string(), e))?;
        let bad = |why: &str| LoadError::Format(format!("{} is not a safetensors file: {why}", path.display()));
        let header_len = bytes.get(..8).map(|b| u64::from_le_bytes(b.try_into().unwrap()) as usize).ok_or_else(|| bad("too short"))?;
        let header = bytes.get(8..8 + header_len).ok_or_else(|| bad("truncated header"))?;
        let header: HashMap<String, serde_json::Value> = serde_json::from_slice(header).map_err(|_| bad("unreadable header"))?;
        let mut index = HashMap::new();
        for (name, entry) in header {
            if name == "__metadata__" {
                continue;
            }
            let dtype = entry["dtype"].as_str().unwrap_or_default().to_string();
            let shape = entry["shape"].as_array().map(|s| s.iter().filter_map(|d| d.as_u64()).map(|d| d as usize).collect()).unwrap_or_default();
            let offsets = entry["data_offsets"].as_array().and_then(|o| Some((o.first()?.as_u64()? as usize, o.get(1)?.as_u64()? as usize)));
            let (start, end) = offsets.ok_or_else(|| bad("a tensor without offsets"))?;
            if 8 + header_len + end > bytes.len() || start > end {
                return Err(bad("a tensor past the end of the file"));
            }
            index.insert(name, (dtype, shape, 8 + header_len + start, 8 + header_len + end));
        }
        // Checkpoints saved from `BertForX` carry a `bert.` prefix; sentence-transformers' don't.
        let prefix = if index.contains_key("bert.embeddings.word_embeddings.weight") { "bert." } else { "" }.to_string();
        Ok(Self { bytes, index, prefix })
    }

    fn get(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>, LoadError> {
        let full = format!("{}{name}", self.prefix);
        let (dtype, have, start, end) = self.index.get(&full).ok_or_else(|| LoadError::Format(format!("the model has no tensor {full}")))?;
        if have != shape {
            return Err(LoadError::Format(format!("{full} has shape {have:?}, expected {shape:?}")));
        }
        let raw = &self.bytes[*start..*end];
        let values: Vec<f32> = match dtype.as_str() {
            "F32" => raw.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
            "F16" => raw.chunks_exact(2).map(|b| f16_to_f32(u16::from_le_bytes(b.try_into().unwrap()))).collect(),
            "BF16" => raw.chunks_exact(2).map(|b| f32::from_bits((u16::from_le_bytes(b.try_into().unwrap()) as u32) << 16)).collect(),
            other => return Err(LoadError::Format(format!("{full} has unsupported dtype {other}"))),
        };
        if values.len() != shape.iter().product::<usize>() {
            return Err(LoadError::Format(format!("{full} holds {} values for shape {shape:?}", values.len())));
        }
        Ok(values)
    }
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let frac = (h & 0x3ff) as u32;
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: renormalise.
            let shift = frac.leading_zeros() - 21;
            sign | ((113 - shift) << 23) | ((frac << (shift + 1)) & 0x3ff) << 13
        }
        31 => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 112) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

impl Bert {
    /// `int8`: run the linear layers on 8-bit integers if this CPU can (see `int8.rs`).
    pub fn load(folder: &Path, int8: bool) -> Result<Self, LoadError> {
        let int8 = int8 && int8::supported();
        let config_path = folder.join("config.json");
        let config_text = std::fs::read(&config_path).map_err(|e| LoadError::Io(config_path.display().to_string(), e))?;
        let config: BertConfig = serde_json::from_slice(&config_text).map_err(|e| LoadError::Format(format!("config.json: {e}")))?;
        if let Some(act) = config.hidden_act.as_deref().filter(|a| *a != "gelu") {
            return Err(LoadError::Format(format!("activation {act} is not supported (only gelu)")));
        }
        if config.hidden_size % config.num_attention_heads != 0 {
            return Err(LoadError::Format("hidden size is not a multiple of the head count".into()));
        }
        let t = Tensors::open(&folder.join("model.safetensors"))?;
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let norm = |name: &str| -> Result<Norm, LoadError> { Ok(Norm { gamma: t.get(&format!("{name}.weight"), &[h])?, beta: t.get(&format!("{name}.bias"), &[h])? }) };
        let linear_as = |name: &str, inputs: usize, outputs: usize, int8: bool| -> Result<Linear, LoadError> {
            Ok(Linear::new(t.get(&format!("{name}.weight"), &[outputs, inputs])?, t.get(&format!("{name}.bias"), &[outputs])?, inputs, outputs, int8))
        };
        let linear = |name: &str, inputs: usize, outputs: usize| linear_as(name, inputs, outputs, int8);
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for l in 0..config.num_hidden_layers {
            let p = format!("encoder.layer.{l}");
            // Stacked in f32 first, quantized once as one layer.
            let part = |name: &str| linear_as(&format!("{p}.attention.self.{name}"), h, h, false);
            let (q, k, v) = (part("query")?, part("key")?, part("value")?);
            let qkv = Linear::new([q.weight, k.weight, v.weight].concat(), [q.bias, k.bias, v.bias].concat(), h, 3 * h, int8);
            layers.push(Layer {
                qkv,
                attn_out: linear(&format!("{p}.attention.output.dense"), h, h)?,
                attn_norm: norm(&format!("{p}.attention.output.LayerNorm"))?,
                up: linear(&format!("{p}.intermediate.dense"), h, i)?,
                down: linear(&format!("{p}.output.dense"), i, h)?,
                out_norm: norm(&format!("{p}.output.LayerNorm"))?,
            });
        }
        Ok(Self {
            word: t.get("embeddings.word_embeddings.weight", &[vocab_size(&t)?, h])?,
            position: t.get("embeddings.position_embeddings.weight", &[config.max_position_embeddings, h])?,
            token_type: t.get("embeddings.token_type_embeddings.weight", &[type_vocab_size(&t)?, h])?,
            embed_norm: norm("embeddings.LayerNorm")?,
            layers,
            config,
        })
    }

    pub fn is_int8(&self) -> bool {
        self.layers.first().is_some_and(|l| l.qkv.quant.is_some())
    }

    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    pub fn max_positions(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Mean-pooled, L2-normalised embeddings of token sequences (each with its special tokens).
    /// Sequences are packed end to end: linear layers see one `[tokens, hidden]` matrix and
    /// attention runs per sequence and head, in parallel on the current rayon pool.
    pub fn embed(&self, sequences: &[&[u32]], threads: usize) -> Vec<Vec<f32>> {
        let h = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let eps = self.config.layer_norm_eps;
        let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
        let mut spans = Vec::with_capacity(sequences.len());
        let mut total = 0;
        for s in sequences {
            let len = s.len().min(self.config.max_position_embeddings);
            spans.push((total, len));
            total += len;
        }

        let mut x = vec![0.0f32; total * h];
        for (s, &(start, len)) in sequences.iter().zip(&spans) {
            for (pos, &id) in s[..len].iter().enumerate() {
                let row = &mut x[(start + pos) * h..(start + pos + 1) * h];
                let id = (id as usize).min(self.word.len() / h - 1);
                let (w, p, t) = (&self.word[id * h..(id + 1) * h], &self.position[pos * h..(pos + 1) * h], &self.token_type[..h]);
                for j in 0..h {
                    row[j] = w[j] + p[j] + t[j];
                }
            }
        }
        kernels::layer_norm(&mut x, &self.embed_norm.gamma, &self.embed_norm.beta, eps);

        let mut qkv = vec![0.0f32; total * 3 * h];
        let mut ctx = vec![0.0f32; total * h];
        let mut tmp = vec![0.0f32; total * h];
        let mut up = vec![0.0f32; total * self.config.intermediate_size];
        for layer in &self.layers {
            linear(&layer.qkv, &x, &mut qkv, total, par);
            attention(&qkv, &mut ctx, &spans, h, heads);
            linear(&layer.attn_out, &ctx, &mut tmp, total, par);
            kernels::add_layer_norm(&mut x, &tmp, &layer.attn_norm.gamma, &layer.attn_norm.beta, eps);
            linear(&layer.up, &x, &mut up, total, par);
            kernels::gelu(&mut up);
            linear(&layer.down, &up, &mut tmp, total, par);
            kernels::add_layer_norm(&mut x, &tmp, &layer.out_norm.gamma, &layer.out_norm.beta, eps);
        }

        spans
            .iter()
            .map(|&(start, len)| {
                let mut pooled = vec![0.0f32; h];
                for row in x[start * h..(start + len) * h].chunks_exact(h) {
                    for (p, v) in pooled.iter_mut().zip(row) {
                        *p += v;
                    }
                }
                let norm = pooled.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
                pooled.iter_mut().for_each(|v| *v /= norm);
                pooled
            })
            .collect()
    }
}

fn vocab_size(t: &Tensors) -> Result<usize, LoadError> {
    rows_of(t, "embeddings.word_embeddings.weight")
}

fn type_vocab_size(t: &Tensors) -> Result<usize, LoadError> {
    rows_of(t, "embeddings.token_type_embeddings.weight")
}

fn rows_of(t: &Tensors, name: &str) -> Result<usize, LoadError> {
    let full = format!("{}{name}", t.prefix);
    t.index.get(&full).and_then(|(_, shape, _, _)| shape.first().copied()).ok_or_else(|| LoadError::Format(format!("the model has no tensor {full}")))
}

/// Up to this many tokens (one short question), a layer is a few matrix-vector products:
/// `gemm` would first pack the whole weight matrix for them, which cost more than the
/// arithmetic (a lone question took 21 ms of CPU, 3.5× its share of a batch of 32).
const SMALL_ROWS: usize = 48;
/// Weight rows per parallel task in the small path.
const SMALL_BLOCK: usize = 64;

/// `out[rows, outputs] = input[rows, inputs] · weightᵀ + bias`.
fn linear(layer: &Linear, input: &[f32], out: &mut [f32], rows: usize, par: Parallelism) {
    debug_assert_eq!(input.len(), rows * layer.inputs);
    debug_assert_eq!(out.len(), rows * layer.outputs);
    if let Some(quant) = &layer.quant {
        return quant.forward(input, out, rows);
    }
    if rows <= SMALL_ROWS {
        return linear_small(layer, input, out, rows);
    }
    for row in out.chunks_exact_mut(layer.outputs) {
        row.copy_from_slice(&layer.bias);
    }
    // SAFETY: the strides describe `input` as [rows, inputs], `weight` read as its transpose
    // [inputs, outputs], and `out` as [rows, outputs], all row-major and in bounds (asserted above).
    unsafe {
        gemm::gemm(
            rows, layer.outputs, layer.inputs,
            out.as_mut_ptr(), 1, layer.outputs as isize,
            true,
            input.as_ptr(), 1, layer.inputs as isize,
            layer.weight.as_ptr(), layer.inputs as isize, 1,
            1.0, 1.0, false, false, false, par,
        );
    }
}

/// `linear` for a few rows: each weight row dotted with every input row, blocks of weight rows
/// in parallel, then transposed into `out` with the bias.
fn linear_small(layer: &Linear, input: &[f32], out: &mut [f32], rows: usize) {
    let (ins, outs) = (layer.inputs, layer.outputs);
    let mut by_output = vec![0.0f32; outs * rows];
    by_output
        .par_chunks_mut(SMALL_BLOCK * rows)
        .zip(layer.weight.par_chunks(SMALL_BLOCK * ins))
        .for_each(|(dst, weights)| kernels::dot_rows_many(weights, input, ins, dst));
    for (r, row) in out.chunks_exact_mut(outs).enumerate() {
        for (o, (v, b)) in row.iter_mut().zip(&layer.bias).enumerate() {
            *v = b + by_output[o * rows + r];
        }
    }
}

/// A raw pointer that may cross threads: attention tasks write disjoint column blocks of `ctx`.
#[derive(Clone, Copy)]
struct SharedMut(*mut f32);
unsafe impl Send for SharedMut {}
unsafe impl Sync for SharedMut {}

/// Scaled dot-product self-attention per (sequence, head), reading Q, K, V in place from the
/// packed `qkv` rows and writing each head's output into its columns of `ctx`.
fn attention(qkv: &[f32], ctx: &mut [f32], spans: &[(usize, usize)], h: usize, heads: usize) {
    let d = h / heads;
    let scale = 1.0 / (d as f32).sqrt();
    let stride = 3 * h;
    let out = SharedMut(ctx.as_mut_ptr());
    let tasks: Vec<(usize, usize, usize)> = spans.iter().flat_map(|&(start, len)| (0..heads).map(move |head| (start, len, head))).collect();
    tasks.par_iter().for_each_init(Vec::new, |scores: &mut Vec<f32>, &(start, len, head)| {
        let out = out;
        scores.clear();
        scores.resize(len * len, 0.0);
        let q = qkv[start * stride + head * d..].as_ptr();
        let k = qkv[start * stride + h + head * d..].as_ptr();
        let v = qkv[start * stride + 2 * h + head * d..].as_ptr();
        // SAFETY: Q, K and V are `len` rows of `d` values at row stride `stride` inside `qkv`;
        // `scores` is len×len; the output block (rows start.., columns head·d..) belongs to
        // this task alone.
        unsafe {
            gemm::gemm(
                len, len, d,
                scores.as_mut_ptr(), 1, len as isize,
                false,
                q, 1, stride as isize,
                k, stride as isize, 1,
                0.0, scale, false, false, false, Parallelism::None,
            );
            kernels::softmax_rows(scores, len);
            gemm::gemm(
                len, d, len,
                out.0.add(start * h + head * d), 1, h as isize,
                false,
                scores.as_ptr(), 1, len as isize,
                v, 1, stride as isize,
                0.0, 1.0, false, false, false, Parallelism::None,
            );
        }
    });
}
