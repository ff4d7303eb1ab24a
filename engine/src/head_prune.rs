//! CTC head pruning at load time: a recogniser whose language can only emit a
//! subset of the dictionary gets its final classifier (MatMul + Add before the
//! Softmax) sliced to those classes. The head is ~28% of tiny's recognition
//! time (6,906 classes, of which a Latin-script page can use 618), and the
//! arg-max over the kept classes is unchanged whenever the best class is one
//! the language can emit — the text is the same (measured: fullwidth `，：（`
//! that the full head sometimes picks on receipts come out as ASCII, equal
//! under NFKC), the head's work is a tenth.

use rten_onnx::onnx::{DataType, GraphProto, ModelProto, NodeProto};

/// Which dictionary characters a recogniser is allowed to emit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Charset {
    /// Every class of the model (needed for `auto` and CJK languages).
    #[default]
    All,
    /// Characters below U+3000: Latin, Greek, punctuation, digits, symbols —
    /// everything a Latin-script language page prints, without the CJK blocks.
    Latin,
}

impl Charset {
    /// Whether a dictionary entry is kept.
    fn keeps(self, entry: &str) -> bool {
        match self {
            Self::All => true,
            Self::Latin => entry.chars().all(|c| (c as u32) < 0x3000),
        }
    }

    /// Dictionary indices (0-based, i.e. class − 1) this charset keeps; `None`
    /// when it keeps all of them (nothing to prune).
    pub(crate) fn kept_entries(self, alphabet: &[String]) -> Option<Vec<usize>> {
        let kept: Vec<usize> = (0..alphabet.len()).filter(|&i| self.keeps(&alphabet[i])).collect();
        (kept.len() < alphabet.len()).then_some(kept)
    }
}

/// Why a model's head could not be pruned (the caller then keeps the full model).
#[derive(Debug, thiserror::Error)]
#[error("cannot prune the CTC head: {0}")]
pub struct PruneError(String);

fn fail(reason: impl Into<String>) -> PruneError {
    PruneError(reason.into())
}

/// The node producing `value`, skipping `Identity` pass-throughs.
fn producer<'g>(graph: &'g GraphProto, value: &str) -> Option<&'g NodeProto> {
    let node = graph.node.iter().find(|n| n.output.iter().any(|o| o == value))?;
    if node.op_type.as_deref() == Some("Identity") { producer(graph, node.input.first()?) } else { Some(node) }
}

/// Reads an f32 initializer's values.
fn f32_values(t: &rten_onnx::onnx::TensorProto) -> Result<Vec<f32>, PruneError> {
    if t.data_type != Some(DataType::FLOAT) {
        return Err(fail(format!("{:?} is not float", t.name)));
    }
    if let Some(raw) = &t.raw_data {
        let raw = raw.borrow();
        Ok(raw.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect())
    } else {
        Ok(t.float_data.clone())
    }
}

fn set_f32_values(t: &mut rten_onnx::onnx::TensorProto, values: &[f32], dims: Vec<i64>) {
    t.dims = dims;
    t.float_data.clear();
    t.raw_data = Some(std::cell::RefCell::new(values.iter().flat_map(|v| v.to_le_bytes()).collect()));
}

/// Rewrites a PP-OCR recognition ONNX graph (`… → MatMul(W[K, N]) → Add(b[N])
/// → Softmax → output`) so that only `classes` (sorted indices into `0..N`)
/// remain, in that order. Returns the new ONNX bytes.
pub(crate) fn prune_ctc_head(onnx: &[u8], classes: &[usize]) -> Result<Vec<u8>, PruneError> {
    let mut model = ModelProto::parse_buf(onnx).map_err(|e| fail(e.to_string()))?;
    let graph = model.graph.as_mut().ok_or_else(|| fail("no graph"))?;
    let [output] = graph.output.as_slice() else { return Err(fail("expected one output")) };
    let out_name = output.name.clone().ok_or_else(|| fail("unnamed output"))?;
    let softmax = producer(graph, &out_name).ok_or_else(|| fail("output has no producer"))?;
    if softmax.op_type.as_deref() != Some("Softmax") {
        return Err(fail(format!("output comes from {:?}, not Softmax", softmax.op_type)));
    }
    let add = producer(graph, &softmax.input[0]).ok_or_else(|| fail("Softmax input has no producer"))?;
    if add.op_type.as_deref() != Some("Add") || add.input.len() != 2 {
        return Err(fail("Softmax input is not an Add"));
    }
    let is_init = |name: &str| graph.initializer.iter().position(|t| t.name.as_deref() == Some(name));
    let (bias_idx, matmul_out) = match (is_init(&add.input[0]), is_init(&add.input[1])) {
        (None, Some(b)) => (b, add.input[0].clone()),
        (Some(b), None) => (b, add.input[1].clone()),
        _ => return Err(fail("Add has no single bias initializer")),
    };
    let matmul = producer(graph, &matmul_out).ok_or_else(|| fail("Add input has no producer"))?;
    if matmul.op_type.as_deref() != Some("MatMul") || matmul.input.len() != 2 {
        return Err(fail("Add input is not a MatMul"));
    }
    let weight_idx = is_init(&matmul.input[1]).ok_or_else(|| fail("MatMul weight is not an initializer"))?;
    let weight = &graph.initializer[weight_idx];
    let [k, n] = weight.dims.as_slice() else { return Err(fail("MatMul weight is not 2-D")) };
    let (k, n) = (*k as usize, *n as usize);
    if graph.initializer[bias_idx].dims != [n as i64] {
        return Err(fail("bias does not match the weight"));
    }
    if classes.is_empty() || classes.windows(2).any(|w| w[0] >= w[1]) || classes[classes.len() - 1] >= n {
        return Err(fail("class list must be sorted, unique and below the class count"));
    }
    let w = f32_values(weight)?;
    if w.len() != k * n {
        return Err(fail("weight data does not match its shape"));
    }
    let mut sliced = Vec::with_capacity(k * classes.len());
    for row in w.chunks_exact(n) {
        sliced.extend(classes.iter().map(|&c| row[c]));
    }
    let b = f32_values(&graph.initializer[bias_idx])?;
    let b: Vec<f32> = classes.iter().map(|&c| b[c]).collect();
    let m = classes.len() as i64;
    set_f32_values(&mut graph.initializer[weight_idx], &sliced, vec![k as i64, m]);
    set_f32_values(&mut graph.initializer[bias_idx], &b, vec![m]);
    // Declared shapes that still say N would contradict the new weights.
    for info in graph.output.iter_mut().chain(graph.value_info.iter_mut()) {
        let dims = info.r#type.as_mut().and_then(|t| t.tensor_type.as_mut()).and_then(|t| t.shape.as_mut());
        if let Some(last) = dims.and_then(|s| s.dim.last_mut())
            && last.dim_value == Some(n as i64)
        {
            last.dim_value = Some(m);
        }
    }
    model.write_buf().map_err(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_keeps_latin_and_drops_cjk() {
        let alphabet: Vec<String> = ["a", "é", "你", "—", "好", "Ω"].iter().map(|s| s.to_string()).collect();
        assert_eq!(Charset::Latin.kept_entries(&alphabet), Some(vec![0, 1, 3, 5]));
        assert_eq!(Charset::All.kept_entries(&alphabet), None);
        let latin_only: Vec<String> = ["a", "b"].iter().map(|s| s.to_string()).collect();
        assert_eq!(Charset::Latin.kept_entries(&latin_only), None);
    }

    #[test]
    fn non_models_are_refused() {
        assert!(prune_ctc_head(b"not a model", &[0, 1]).is_err());
    }
}
