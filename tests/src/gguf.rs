//! Tiny random-weight llama model written as a GGUF v3 file.
//!
//! Tests and benchmarks need a real model that a real `llama-server` can
//! load in well under a second, without downloading anything. The output is
//! gibberish, but the file is a structurally valid llama-architecture model
//! (SPM tokenizer with byte fallback, all tensors F32), so every code path of
//! the server — loading, tokenizing, chat templating, sampling, streaming —
//! runs for real.
//!
//! The format is documented in ggml's `docs/gguf.md`: a little-endian header,
//! metadata key/value pairs, tensor descriptors, padding to
//! `general.alignment`, then the tensor data, each tensor starting at an
//! aligned offset relative to the start of the data section.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Alignment of the tensor data section and of each tensor inside it.
/// 32 is ggml's default; we write it explicitly so readers need not guess.
pub const ALIGNMENT: u64 = 32;

/// Half-width of the uniform distribution the weights are drawn from, for
/// embeddings and for projections with [`REFERENCE_FAN_IN`] inputs. Small
/// enough that activations stay tame through the RMS norms, large enough
/// that different seeds give visibly different outputs.
const WEIGHT_RANGE: f32 = 0.1;

/// Projections with more inputs get a proportionally narrower range
/// (`1/sqrt(fan_in)`, the usual init), so wide benchmark models keep the
/// default model's activation scale instead of blowing up layer by layer.
const REFERENCE_FAN_IN: f32 = 64.0;

/// ggml tensor type id for F32; F32 needs no quantisation code on our side.
const GGML_TYPE_F32: u32 = 0;

/// llama.cpp's `LLAMA_FTYPE_ALL_F32`, reported as `general.file_type`.
const FTYPE_ALL_F32: u32 = 0;

/// The ChatML template llama.cpp recognises, so `/v1/chat/completions`
/// renders prompts the way most real models do. The `\n` are Jinja string
/// escapes, hence the raw string.
pub const CHATML_TEMPLATE: &str = r"{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

/// Token ids of the special tokens, fixed by the vocabulary layout below.
pub const UNK_TOKEN_ID: u32 = 0;
/// Beginning-of-sequence token id.
pub const BOS_TOKEN_ID: u32 = 1;
/// End-of-sequence token id.
pub const EOS_TOKEN_ID: u32 = 2;

/// SPM token types (llama.cpp `llama_token_type`).
const TOKEN_TYPE_NORMAL: i32 = 1;
const TOKEN_TYPE_UNKNOWN: i32 = 2;
const TOKEN_TYPE_CONTROL: i32 = 3;
const TOKEN_TYPE_BYTE: i32 = 6;

/// Whole-word and sub-word pieces after the special and byte tokens. SPM
/// marks a preceding space with U+2581 ('▁'). Order gives descending scores,
/// so the tokenizer prefers earlier pieces when merging.
const NORMAL_PIECES: &[&str] = &[
    "▁", "e", "t", "a", "o", "i", "n", "s", "r", "h", "l", "d", "u", "c", "m", "▁the", "▁a", "▁to",
    "▁of", "▁and", "▁is", "▁in", "▁it", "▁you", "▁that", "▁hello", "▁world", "▁model", "▁test",
    "he", "er", "in", "on", "an", "re", "ll", "lo", "hel", "hell", "▁he", "▁hel", "▁hell", ".",
    ",", "!", "?",
];

/// Shape and identity of the generated model. Every field drives the file:
/// bump `embedding`/`layers`/`ff` to get a slower, more "realistic" model for
/// benchmarks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TinyModelSpec {
    /// Hidden size (`llama.embedding_length`); must be a multiple of `heads`
    /// with an even per-head size (RoPE rotates pairs of dimensions).
    pub embedding: usize,
    /// Number of transformer blocks (`llama.block_count`).
    pub layers: usize,
    /// Attention heads; also used as the KV head count (no GQA).
    pub heads: usize,
    /// Feed-forward hidden size (`llama.feed_forward_length`).
    pub ff: usize,
    /// Training context length advertised to the loader.
    pub context: usize,
    /// Seed for the weights; same seed and shape give byte-identical files.
    pub seed: u64,
    /// `general.name`, shown by llama-server in logs and `/v1/models`.
    pub name: String,
}

impl Default for TinyModelSpec {
    fn default() -> Self {
        Self {
            embedding: 64,
            layers: 2,
            heads: 4,
            ff: 128,
            context: 512,
            seed: 0,
            name: "tiny-llama".to_string(),
        }
    }
}

impl TinyModelSpec {
    /// Wide and deep enough (256 wide, 6 layers) that each token takes
    /// milliseconds on a CPU, so a long generation is still running seconds
    /// later, while a one-token answer stays quick; `context` tokens long.
    pub fn slow_per_token(context: usize) -> TinyModelSpec {
        TinyModelSpec {
            embedding: 256,
            layers: 6,
            heads: 4,
            ff: 512,
            context,
            ..TinyModelSpec::default()
        }
    }
}

/// Writes the model described by `spec` to `path`, streaming the tensor
/// data so large benchmark specs do not need to fit in memory twice.
pub fn write_tiny_llama(path: &Path, spec: &TinyModelSpec) -> io::Result<()> {
    // Validate first so a bad spec leaves no empty file behind.
    validate(spec)?;
    let mut out = BufWriter::new(File::create(path)?);
    write_tiny_llama_to(&mut out, spec)?;
    out.flush()
}

/// [`write_tiny_llama`] with the default (few hundred KB) shape.
pub fn write_tiny_llama_default(path: &Path, seed: u64) -> io::Result<()> {
    let spec = TinyModelSpec {
        seed,
        ..TinyModelSpec::default()
    };
    write_tiny_llama(path, &spec)
}

/// The whole file as bytes; handy for tests that corrupt or inspect it.
pub fn tiny_llama_bytes(spec: &TinyModelSpec) -> io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_tiny_llama_to(&mut buf, spec)?;
    Ok(buf)
}

/// Writes the GGUF file to any writer: header, metadata, tensor infos,
/// padding, tensor data.
pub fn write_tiny_llama_to<W: Write>(out: &mut W, spec: &TinyModelSpec) -> io::Result<()> {
    validate(spec)?;
    let vocab = Vocab::new();
    let metadata = metadata(spec, &vocab);
    let tensors = tensor_layout(spec, &vocab);
    let mut out = CountingWriter::new(out);

    out.write_all(b"GGUF")?;
    out.write_u32(3)?;
    out.write_u64(tensors.len() as u64)?;
    out.write_u64(metadata.len() as u64)?;
    for (key, value) in &metadata {
        out.write_str(key)?;
        value.write(&mut out)?;
    }
    let mut offset = 0u64;
    for tensor in &tensors {
        tensor.write_info(&mut out, offset)?;
        offset = align(offset + tensor.byte_len());
    }
    out.pad_to_alignment()?;

    let mut rng = StdRng::seed_from_u64(spec.seed);
    for tensor in &tensors {
        tensor.write_data(&mut out, &mut rng)?;
        out.pad_to_alignment()?;
    }
    Ok(())
}

/// Rejects shapes llama.cpp would refuse or that would make no sense, with
/// a message naming the bad field instead of a cryptic loader error later.
fn validate(spec: &TinyModelSpec) -> io::Result<()> {
    let problem = if spec.embedding == 0 || spec.layers == 0 || spec.heads == 0 {
        Some("embedding, layers and heads must be non-zero")
    } else if spec.ff == 0 || spec.context == 0 {
        Some("ff and context must be non-zero")
    } else if !spec.embedding.is_multiple_of(spec.heads) {
        Some("embedding must be a multiple of heads")
    } else if !(spec.embedding / spec.heads).is_multiple_of(2) {
        Some("embedding / heads must be even (RoPE rotates pairs)")
    } else {
        None
    };
    match problem {
        Some(msg) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("invalid TinyModelSpec: {msg}: {spec:?}"),
        )),
        None => Ok(()),
    }
}

/// Rounds `n` up to the next multiple of [`ALIGNMENT`].
fn align(n: u64) -> u64 {
    n.div_ceil(ALIGNMENT) * ALIGNMENT
}

/// Converts a shape parameter to the `u32` GGUF uses for hyperparameters.
/// The validated specs are tiny, so saturation is only a theoretical guard.
fn as_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The SPM vocabulary: `<unk>`, `<s>`, `</s>`, 256 byte-fallback tokens,
/// then a few normal pieces. Byte fallback means any text tokenizes.
struct Vocab {
    tokens: Vec<String>,
    scores: Vec<f32>,
    types: Vec<i32>,
    /// Id of the first normal (non-special, non-byte) token.
    first_normal: usize,
}

impl Vocab {
    fn new() -> Self {
        let mut vocab = Self {
            tokens: Vec::new(),
            scores: Vec::new(),
            types: Vec::new(),
            first_normal: 0,
        };
        vocab.push("<unk>", 0.0, TOKEN_TYPE_UNKNOWN);
        vocab.push("<s>", 0.0, TOKEN_TYPE_CONTROL);
        vocab.push("</s>", 0.0, TOKEN_TYPE_CONTROL);
        for byte in 0..=255u8 {
            vocab.push(&format!("<0x{byte:02X}>"), 0.0, TOKEN_TYPE_BYTE);
        }
        vocab.first_normal = vocab.len();
        for (rank, piece) in NORMAL_PIECES.iter().enumerate() {
            vocab.push(piece, -(rank as f32) - 1.0, TOKEN_TYPE_NORMAL);
        }
        vocab
    }

    fn push(&mut self, token: &str, score: f32, token_type: i32) {
        self.tokens.push(token.to_string());
        self.scores.push(score);
        self.types.push(token_type);
    }

    fn len(&self) -> usize {
        self.tokens.len()
    }
}

/// A GGUF metadata value; only the types this generator needs.
#[derive(Debug, Clone, PartialEq)]
enum Value {
    U32(u32),
    F32(f32),
    Bool(bool),
    Str(String),
    StrArray(Vec<String>),
    F32Array(Vec<f32>),
    I32Array(Vec<i32>),
}

/// GGUF metadata value type ids (`gguf_type`).
mod value_type {
    pub const U32: u32 = 4;
    pub const I32: u32 = 5;
    pub const F32: u32 = 6;
    pub const BOOL: u32 = 7;
    pub const STRING: u32 = 8;
    pub const ARRAY: u32 = 9;
}

impl Value {
    fn write<W: Write>(&self, out: &mut CountingWriter<W>) -> io::Result<()> {
        match self {
            Value::U32(v) => {
                out.write_u32(value_type::U32)?;
                out.write_u32(*v)
            }
            Value::F32(v) => {
                out.write_u32(value_type::F32)?;
                out.write_f32(*v)
            }
            Value::Bool(v) => {
                out.write_u32(value_type::BOOL)?;
                out.write_all(&[u8::from(*v)])
            }
            Value::Str(v) => {
                out.write_u32(value_type::STRING)?;
                out.write_str(v)
            }
            Value::StrArray(items) => {
                out.write_array_header(value_type::STRING, items.len())?;
                items.iter().try_for_each(|s| out.write_str(s))
            }
            Value::F32Array(items) => {
                out.write_array_header(value_type::F32, items.len())?;
                items.iter().try_for_each(|v| out.write_f32(*v))
            }
            Value::I32Array(items) => {
                out.write_array_header(value_type::I32, items.len())?;
                items
                    .iter()
                    .try_for_each(|v| out.write_all(&v.to_le_bytes()))
            }
        }
    }
}

/// All metadata keys, in the order they are written. Key names are the
/// ones llama.cpp's loader looks up (`LLM_KV_*`).
fn metadata(spec: &TinyModelSpec, vocab: &Vocab) -> Vec<(&'static str, Value)> {
    use Value::*;
    vec![
        ("general.architecture", Str("llama".to_string())),
        ("general.name", Str(spec.name.clone())),
        ("general.alignment", U32(ALIGNMENT as u32)),
        ("general.file_type", U32(FTYPE_ALL_F32)),
        ("llama.context_length", U32(as_u32(spec.context))),
        ("llama.embedding_length", U32(as_u32(spec.embedding))),
        ("llama.block_count", U32(as_u32(spec.layers))),
        ("llama.feed_forward_length", U32(as_u32(spec.ff))),
        ("llama.attention.head_count", U32(as_u32(spec.heads))),
        ("llama.attention.head_count_kv", U32(as_u32(spec.heads))),
        (
            "llama.rope.dimension_count",
            U32(as_u32(spec.embedding / spec.heads)),
        ),
        ("llama.attention.layer_norm_rms_epsilon", F32(1e-5)),
        ("llama.vocab_size", U32(as_u32(vocab.len()))),
        ("tokenizer.ggml.model", Str("llama".to_string())),
        ("tokenizer.ggml.tokens", StrArray(vocab.tokens.clone())),
        ("tokenizer.ggml.scores", F32Array(vocab.scores.clone())),
        ("tokenizer.ggml.token_type", I32Array(vocab.types.clone())),
        ("tokenizer.ggml.bos_token_id", U32(BOS_TOKEN_ID)),
        ("tokenizer.ggml.eos_token_id", U32(EOS_TOKEN_ID)),
        ("tokenizer.ggml.unknown_token_id", U32(UNK_TOKEN_ID)),
        ("tokenizer.ggml.add_bos_token", Bool(true)),
        ("tokenizer.ggml.add_eos_token", Bool(false)),
        ("tokenizer.chat_template", Str(CHATML_TEMPLATE.to_string())),
    ]
}

/// How a tensor's values are produced.
///
/// With purely random weights the sampler picks nearly uniformly among all
/// tokens: 256 of them are raw bytes (so replies are mostly U+FFFD and
/// control characters) and `</s>` ends about 1% of 16-token replies early.
/// Tests want printable text and `completion_tokens == max_tokens`, so
/// embedding dimension [`BIAS_DIM`] is reserved as a constant "bias
/// channel": the embeddings set it to [`BIAS_VALUE`], no layer reads or
/// writes it, so after the final RMS norm it is a large positive constant,
/// and the output head weights it by [`SUPPRESS_WEIGHT`] for every special
/// and byte token. Those tokens then never get sampled; prompts still
/// tokenize with byte fallback. A caller can still force `</s>` with an
/// OpenAI `logit_bias` of `{"2": 100}`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Init {
    /// RMS-norm gains: 1.0 is the identity.
    Ones,
    /// Token embeddings `[n_embd, n_vocab]`: random, bias channel set.
    Embedding,
    /// Projection reading the residual stream `[n_embd, n_out]`: random,
    /// blind to the bias channel.
    ReadsResidual,
    /// Projection writing the residual stream `[n_in, n_embd]`: random,
    /// never touches the bias channel.
    WritesResidual,
    /// Output head `[n_embd, n_vocab]`: random, tokens below
    /// `first_sampled` pushed down via the bias channel.
    OutputHead { first_sampled: u64 },
}

/// The embedding dimension reserved as the bias channel (see [`Init`]).
const BIAS_DIM: u64 = 0;

/// Bias channel value in every token embedding; ~30x the other dimensions,
/// so it dominates the final RMS norm's output.
const BIAS_VALUE: f32 = 2.0;

/// Output head weight on the bias channel for tokens that must not be
/// sampled. The normalised channel stays >= ~1 even for deep models,
/// giving those logits <= -8 against random logits of about +-0.5.
const SUPPRESS_WEIGHT: f32 = -8.0;

impl Init {
    /// Value of element `index` of a tensor whose innermost dimension is
    /// `ne0`, given a fresh `random` draw (always drawn, so every tensor
    /// consumes the RNG identically regardless of its init).
    fn value(self, index: u64, ne0: u64, random: f32) -> f32 {
        let (inner, outer) = (index % ne0, index / ne0);
        match self {
            Init::Ones => 1.0,
            Init::Embedding if inner == BIAS_DIM => BIAS_VALUE,
            Init::ReadsResidual if inner == BIAS_DIM => 0.0,
            Init::WritesResidual if outer == BIAS_DIM => 0.0,
            Init::OutputHead { first_sampled } if inner == BIAS_DIM && outer < first_sampled => {
                SUPPRESS_WEIGHT
            }
            _ => random,
        }
    }
}

/// One tensor descriptor. `dims` is ggml order: innermost (`ne[0]`) first,
/// so a projection from `n_in` to `n_out` is `[n_in, n_out]`.
#[derive(Debug, Clone, PartialEq)]
struct TensorSpec {
    name: String,
    dims: Vec<u64>,
    init: Init,
}

impl TensorSpec {
    fn new(name: impl Into<String>, dims: &[usize], init: Init) -> Self {
        Self {
            name: name.into(),
            dims: dims.iter().map(|&d| d as u64).collect(),
            init,
        }
    }

    fn elements(&self) -> u64 {
        self.dims.iter().product()
    }

    fn byte_len(&self) -> u64 {
        self.elements() * 4
    }

    /// Half-width of this tensor's random values: fixed for embeddings (a
    /// lookup has no fan-in), `1/sqrt(fan_in)`-scaled for projections.
    fn weight_range(&self) -> f32 {
        match self.init {
            Init::Embedding | Init::Ones => WEIGHT_RANGE,
            _ => {
                let fan_in = self.dims.first().copied().unwrap_or(1) as f32;
                WEIGHT_RANGE * (REFERENCE_FAN_IN / fan_in).sqrt()
            }
        }
    }

    fn write_info<W: Write>(&self, out: &mut CountingWriter<W>, offset: u64) -> io::Result<()> {
        out.write_str(&self.name)?;
        out.write_u32(self.dims.len() as u32)?;
        self.dims.iter().try_for_each(|&d| out.write_u64(d))?;
        out.write_u32(GGML_TYPE_F32)?;
        out.write_u64(offset)
    }

    fn write_data<W: Write>(
        &self,
        out: &mut CountingWriter<W>,
        rng: &mut StdRng,
    ) -> io::Result<()> {
        let ne0 = self.dims.first().copied().unwrap_or(1);
        let range = self.weight_range();
        for index in 0..self.elements() {
            let random = rng.random_range(-range..range);
            out.write_f32(self.init.value(index, ne0, random))?;
        }
        Ok(())
    }
}

/// Every tensor of a llama model (names as in llama.cpp's `LLM_TENSOR_*`),
/// in file order.
fn tensor_layout(spec: &TinyModelSpec, vocab: &Vocab) -> Vec<TensorSpec> {
    let (embd, ff, n_vocab) = (spec.embedding, spec.ff, vocab.len());
    // KV heads equal query heads, so the K/V projections are square.
    let embd_kv = embd;
    let head = Init::OutputHead {
        first_sampled: vocab.first_normal as u64,
    };
    let mut tensors = vec![
        TensorSpec::new("token_embd.weight", &[embd, n_vocab], Init::Embedding),
        TensorSpec::new("output_norm.weight", &[embd], Init::Ones),
        TensorSpec::new("output.weight", &[embd, n_vocab], head),
    ];
    for i in 0..spec.layers {
        let t = |suffix: &str, dims: &[usize], init| {
            TensorSpec::new(format!("blk.{i}.{suffix}.weight"), dims, init)
        };
        tensors.extend([
            t("attn_norm", &[embd], Init::Ones),
            t("attn_q", &[embd, embd], Init::ReadsResidual),
            t("attn_k", &[embd, embd_kv], Init::ReadsResidual),
            t("attn_v", &[embd, embd_kv], Init::ReadsResidual),
            t("attn_output", &[embd, embd], Init::WritesResidual),
            t("ffn_norm", &[embd], Init::Ones),
            t("ffn_gate", &[embd, ff], Init::ReadsResidual),
            t("ffn_up", &[embd, ff], Init::ReadsResidual),
            t("ffn_down", &[ff, embd], Init::WritesResidual),
        ]);
    }
    tensors
}

/// Tracks the absolute file position so padding can be computed without
/// requiring `Seek` (which would rule out writing into a `Vec` or a pipe).
struct CountingWriter<W> {
    inner: W,
    written: u64,
}

impl<W: Write> CountingWriter<W> {
    fn new(inner: W) -> Self {
        Self { inner, written: 0 }
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.inner.write_all(bytes)?;
        self.written += bytes.len() as u64;
        Ok(())
    }

    fn write_u32(&mut self, v: u32) -> io::Result<()> {
        self.write_all(&v.to_le_bytes())
    }

    fn write_u64(&mut self, v: u64) -> io::Result<()> {
        self.write_all(&v.to_le_bytes())
    }

    fn write_f32(&mut self, v: f32) -> io::Result<()> {
        self.write_all(&v.to_le_bytes())
    }

    /// GGUF strings: u64 byte length, then UTF-8 bytes, no terminator.
    fn write_str(&mut self, s: &str) -> io::Result<()> {
        self.write_u64(s.len() as u64)?;
        self.write_all(s.as_bytes())
    }

    fn write_array_header(&mut self, elem_type: u32, len: usize) -> io::Result<()> {
        self.write_u32(value_type::ARRAY)?;
        self.write_u32(elem_type)?;
        self.write_u64(len as u64)
    }

    fn pad_to_alignment(&mut self) -> io::Result<()> {
        let pad = align(self.written) - self.written;
        self.write_all(&vec![0u8; pad as usize])
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a failed unwrap is a failed test
mod tests {
    use super::*;

    /// Minimal GGUF reader, just enough to check what the writer produced.
    struct Reader<'a> {
        buf: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn take(&mut self, n: usize) -> &'a [u8] {
            let s = &self.buf[self.pos..self.pos + n];
            self.pos += n;
            s
        }
        fn u32(&mut self) -> u32 {
            u32::from_le_bytes(self.take(4).try_into().unwrap())
        }
        fn u64(&mut self) -> u64 {
            u64::from_le_bytes(self.take(8).try_into().unwrap())
        }
        fn f32(&mut self) -> f32 {
            f32::from_le_bytes(self.take(4).try_into().unwrap())
        }
        fn str(&mut self) -> String {
            let n = self.u64() as usize;
            String::from_utf8(self.take(n).to_vec()).unwrap()
        }
        fn value(&mut self) -> Value {
            match self.u32() {
                value_type::U32 => Value::U32(self.u32()),
                value_type::F32 => Value::F32(self.f32()),
                value_type::BOOL => Value::Bool(self.take(1)[0] != 0),
                value_type::STRING => Value::Str(self.str()),
                value_type::ARRAY => {
                    let elem = self.u32();
                    let n = self.u64() as usize;
                    match elem {
                        value_type::STRING => Value::StrArray((0..n).map(|_| self.str()).collect()),
                        value_type::F32 => Value::F32Array((0..n).map(|_| self.f32()).collect()),
                        value_type::I32 => {
                            Value::I32Array((0..n).map(|_| self.u32() as i32).collect())
                        }
                        t => panic!("unexpected array element type {t}"),
                    }
                }
                t => panic!("unexpected value type {t}"),
            }
        }
    }

    struct Parsed {
        version: u32,
        kvs: Vec<(String, Value)>,
        /// (name, dims, type, offset)
        infos: Vec<(String, Vec<u64>, u32, u64)>,
        data_start: usize,
    }

    impl Parsed {
        fn kv(&self, key: &str) -> &Value {
            &self.kvs.iter().find(|(k, _)| k == key).unwrap().1
        }
    }

    fn parse(buf: &[u8]) -> Parsed {
        let mut r = Reader { buf, pos: 0 };
        assert_eq!(r.take(4), b"GGUF");
        let version = r.u32();
        let n_tensors = r.u64();
        let n_kv = r.u64();
        let kvs = (0..n_kv).map(|_| (r.str(), r.value())).collect();
        let infos = (0..n_tensors)
            .map(|_| {
                let name = r.str();
                let n_dims = r.u32();
                let dims = (0..n_dims).map(|_| r.u64()).collect();
                (name, dims, r.u32(), r.u64())
            })
            .collect();
        let data_start = align(r.pos as u64) as usize;
        Parsed {
            version,
            kvs,
            infos,
            data_start,
        }
    }

    fn f32_at(buf: &[u8], pos: usize) -> f32 {
        f32::from_le_bytes(buf[pos..pos + 4].try_into().unwrap())
    }

    #[test]
    fn gguf_round_trip_header_metadata_and_tensor_infos() {
        let spec = TinyModelSpec::default();
        let buf = tiny_llama_bytes(&spec).unwrap();
        let p = parse(&buf);

        assert_eq!(p.version, 3);
        let expected: Vec<(String, Value)> = metadata(&spec, &Vocab::new())
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        assert_eq!(p.kvs, expected);
        assert_eq!(p.kv("general.architecture"), &Value::Str("llama".into()));
        assert_eq!(p.kv("general.alignment"), &Value::U32(32));
        assert_eq!(p.kv("llama.rope.dimension_count"), &Value::U32(16));
        let Value::StrArray(tokens) = p.kv("tokenizer.ggml.tokens") else {
            panic!("tokens not a string array");
        };
        assert_eq!(&tokens[..3], &["<unk>", "<s>", "</s>"]);
        assert_eq!(tokens[3], "<0x00>");
        assert_eq!(tokens[258], "<0xFF>");
        assert_eq!(p.kv("llama.vocab_size"), &Value::U32(tokens.len() as u32));

        let n_vocab = tokens.len() as u64;
        assert_eq!(p.infos.len(), 3 + 9 * spec.layers);
        assert_eq!(p.infos[0].0, "token_embd.weight");
        assert_eq!(p.infos[0].1, vec![64, n_vocab]);
        let down = p
            .infos
            .iter()
            .find(|i| i.0 == "blk.1.ffn_down.weight")
            .unwrap();
        assert_eq!(down.1, vec![128, 64]);
        assert!(p.infos.iter().all(|i| i.2 == GGML_TYPE_F32));
    }

    #[test]
    fn gguf_offsets_are_aligned_and_file_ends_after_last_tensor() {
        let buf = tiny_llama_bytes(&TinyModelSpec::default()).unwrap();
        let p = parse(&buf);
        assert_eq!(p.data_start % 32, 0);
        let mut expected = 0u64;
        for (_, dims, _, offset) in &p.infos {
            assert_eq!(*offset, expected);
            assert_eq!(offset % 32, 0);
            expected = align(offset + dims.iter().product::<u64>() * 4);
        }
        assert_eq!(buf.len() as u64, p.data_start as u64 + expected);
        assert!((200_000..1_000_000).contains(&buf.len()), "{}", buf.len());
    }

    /// Every tensor as a matrix `m[outer][inner]` (ggml `ne[1]`, `ne[0]`).
    fn matrices(buf: &[u8]) -> Vec<(String, Vec<Vec<f32>>)> {
        let p = parse(buf);
        p.infos
            .iter()
            .map(|(name, dims, _, offset)| {
                let ne0 = dims[0] as usize;
                let n = dims.iter().product::<u64>() as usize;
                let start = p.data_start + *offset as usize;
                let flat: Vec<f32> = (0..n).map(|i| f32_at(buf, start + 4 * i)).collect();
                (
                    name.clone(),
                    flat.chunks(ne0).map(<[f32]>::to_vec).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn gguf_tensor_values_follow_bias_channel_scheme() {
        let spec = TinyModelSpec::default();
        let buf = tiny_llama_bytes(&spec).unwrap();
        let first_normal = Vocab::new().first_normal;
        let in_range = |v: &f32| v.abs() <= WEIGHT_RANGE && *v != BIAS_VALUE;
        for (name, m) in matrices(&buf) {
            let bias_col: Vec<f32> = m.iter().map(|row| row[0]).collect();
            let rest: Vec<f32> = m.iter().flat_map(|row| row[1..].to_vec()).collect();
            if name.ends_with("norm.weight") {
                assert!(m[0].iter().all(|&v| v == 1.0), "{name}");
                continue;
            }
            assert!(rest.iter().all(in_range), "{name}");
            assert!(rest.iter().any(|&v| v != 0.0), "{name}");
            if name == "token_embd.weight" {
                assert!(bias_col.iter().all(|&v| v == BIAS_VALUE));
            } else if name == "output.weight" {
                assert!(
                    bias_col[..first_normal]
                        .iter()
                        .all(|&v| v == SUPPRESS_WEIGHT)
                );
                assert!(bias_col[first_normal..].iter().all(in_range));
            } else if name.ends_with("attn_output.weight") || name.ends_with("ffn_down.weight") {
                assert!(
                    m[0].iter().all(|&v| v == 0.0),
                    "{name} writes the bias channel"
                );
            } else {
                assert!(
                    bias_col.iter().all(|&v| v == 0.0),
                    "{name} reads the bias channel"
                );
            }
        }
    }

    #[test]
    fn gguf_wide_projections_get_narrower_range() {
        let spec = TinyModelSpec {
            embedding: 256,
            ff: 1024,
            ..TinyModelSpec::default()
        };
        let buf = tiny_llama_bytes(&spec).unwrap();
        let max_abs = |name: &str| {
            let (_, m) = matrices(&buf).into_iter().find(|(n, _)| n == name).unwrap();
            m.iter().flatten().fold(0f32, |a, v| a.max(v.abs()))
        };
        // sqrt(64 / 256) = 1/2, sqrt(64 / 1024) = 1/4 of WEIGHT_RANGE.
        assert!(max_abs("blk.0.attn_q.weight") <= WEIGHT_RANGE / 2.0);
        assert!(max_abs("blk.0.ffn_down.weight") <= WEIGHT_RANGE / 4.0);
        assert!(max_abs("blk.0.ffn_down.weight") > WEIGHT_RANGE / 8.0);
    }

    #[test]
    fn gguf_is_deterministic_by_seed() {
        let spec = |seed| TinyModelSpec {
            seed,
            ..TinyModelSpec::default()
        };
        let a = tiny_llama_bytes(&spec(7)).unwrap();
        assert_eq!(a, tiny_llama_bytes(&spec(7)).unwrap());
        let b = tiny_llama_bytes(&spec(8)).unwrap();
        assert_eq!(a.len(), b.len());
        assert_ne!(a, b);
    }

    #[test]
    fn gguf_spec_drives_shape() {
        let spec = TinyModelSpec {
            embedding: 256,
            layers: 4,
            heads: 8,
            ff: 512,
            ..TinyModelSpec::default()
        };
        let buf = tiny_llama_bytes(&spec).unwrap();
        let p = parse(&buf);
        assert_eq!(p.infos.len(), 3 + 9 * 4);
        assert_eq!(p.kv("llama.block_count"), &Value::U32(4));
        assert_eq!(p.kv("llama.rope.dimension_count"), &Value::U32(32));
        let up = p
            .infos
            .iter()
            .find(|i| i.0 == "blk.3.ffn_up.weight")
            .unwrap();
        assert_eq!(up.1, vec![256, 512]);
    }

    #[test]
    fn gguf_rejects_bad_spec() {
        let bad = TinyModelSpec {
            embedding: 60,
            heads: 8,
            ..TinyModelSpec::default()
        };
        let err = tiny_llama_bytes(&bad).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn gguf_write_to_path_matches_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        write_tiny_llama_default(&path, 3).unwrap();
        let spec = TinyModelSpec {
            seed: 3,
            ..TinyModelSpec::default()
        };
        assert_eq!(
            std::fs::read(&path).unwrap(),
            tiny_llama_bytes(&spec).unwrap()
        );
    }
}
