//! The CTC head of a PP-OCR recogniser, rewritten at load time.
//!
//! - **Pruned to a language's characters:** a recogniser whose language can
//!   only emit a subset of the dictionary gets its final classifier (MatMul +
//!   Add before the Softmax) sliced to those classes. The head is ~28% of
//!   tiny's recognition time (6,906 classes, of which a Latin-script page can
//!   use 618), and the arg-max over the kept classes is unchanged whenever the
//!   best class is one the language can emit — the text is the same (measured:
//!   fullwidth `，：（` that the full head sometimes picks on receipts come out
//!   as ASCII, equal under NFKC), the head's work is a tenth.
//! - **Reduced to the best class per frame inside the graph:** greedy CTC
//!   needs only each frame's most probable class and its probability, so the
//!   graph ends in `ArgMax` and `ReduceMax` over the Softmax instead of
//!   returning every class's probability. With the full head (`auto`, CJK:
//!   18,710 classes for small) a 2,400-px line's `[300, 18710]` probabilities
//!   are 22 MB; as a graph output onnxruntime kept them in its arena beside the
//!   logits and the engine copied them once more. Measured (small, onnxruntime,
//!   one 2,400-px line): the session's memory grew 84–92 MB → 62–65 MB, at the
//!   same time per line.

use rten_onnx::onnx::{
    AttributeProto, AttributeType, DataType, GraphProto, ModelProto, NodeProto, TypeProto, TypeProtoTensor,
    ValueInfoProto,
};
use tracing::warn;

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

/// Why a recogniser's CTC head could not be rewritten.
#[derive(Debug, thiserror::Error)]
#[error("CTC head: {0}")]
pub struct HeadError(String);

fn fail(reason: impl Into<String>) -> HeadError {
    HeadError(reason.into())
}

/// The node producing `value`, skipping `Identity` pass-throughs.
fn producer<'g>(graph: &'g GraphProto, value: &str) -> Option<&'g NodeProto> {
    let node = graph.node.iter().find(|n| n.output.iter().any(|o| o == value))?;
    if node.op_type.as_deref() == Some("Identity") { producer(graph, node.input.first()?) } else { Some(node) }
}

/// Reads an f32 initializer's values.
fn f32_values(t: &rten_onnx::onnx::TensorProto) -> Result<Vec<f32>, HeadError> {
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

/// Graph outputs of a rewritten recogniser, in this order: `[N, frames]`
/// best class (int64) and its probability (f32).
pub(crate) const BEST_CLASS: &str = "ocrchat_best_class";
pub(crate) const BEST_PROB: &str = "ocrchat_best_prob";

/// A recogniser graph ready for the engine.
pub(crate) struct CtcGraph {
    /// ONNX bytes: the head pruned where asked and possible, ending in the
    /// [`BEST_CLASS`] and [`BEST_PROB`] outputs.
    pub onnx: Vec<u8>,
    /// Output classes of the whole head (blank + dictionary + space), before pruning.
    pub head_classes: usize,
    /// Whether the head was pruned to the classes asked for.
    pub pruned: bool,
}

/// Where the head's weights are: a PP-OCR recognition graph ends
/// `… → MatMul(W[K, N]) → Add(b[N]) → Softmax → output`.
struct Head {
    softmax_out: String,
    weight: usize,
    bias: usize,
    k: usize,
    n: usize,
}

fn find_head(graph: &GraphProto) -> Result<Head, HeadError> {
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
    let (bias, matmul_out) = match (is_init(&add.input[0]), is_init(&add.input[1])) {
        (None, Some(b)) => (b, add.input[0].clone()),
        (Some(b), None) => (b, add.input[1].clone()),
        _ => return Err(fail("Add has no single bias initializer")),
    };
    let matmul = producer(graph, &matmul_out).ok_or_else(|| fail("Add input has no producer"))?;
    if matmul.op_type.as_deref() != Some("MatMul") || matmul.input.len() != 2 {
        return Err(fail("Add input is not a MatMul"));
    }
    let weight = is_init(&matmul.input[1]).ok_or_else(|| fail("MatMul weight is not an initializer"))?;
    let [k, n] = graph.initializer[weight].dims.as_slice() else { return Err(fail("MatMul weight is not 2-D")) };
    let (k, n) = (*k as usize, *n as usize);
    if graph.initializer[bias].dims != [n as i64] {
        return Err(fail("bias does not match the weight"));
    }
    Ok(Head { softmax_out: out_name, weight, bias, k, n })
}

/// Slices the head to `classes` (sorted indices into `0..N`), in that order.
/// Checks everything before changing anything: on error the graph is as it was.
fn prune(graph: &mut GraphProto, head: &Head, classes: &[usize]) -> Result<(), HeadError> {
    let (k, n) = (head.k, head.n);
    if classes.is_empty() || classes.windows(2).any(|w| w[0] >= w[1]) || classes[classes.len() - 1] >= n {
        return Err(fail("class list must be sorted, unique and below the class count"));
    }
    let w = f32_values(&graph.initializer[head.weight])?;
    if w.len() != k * n {
        return Err(fail("weight data does not match its shape"));
    }
    let b = f32_values(&graph.initializer[head.bias])?;
    if b.len() != n {
        return Err(fail("bias data does not match its shape"));
    }
    let mut sliced = Vec::with_capacity(k * classes.len());
    for row in w.chunks_exact(n) {
        sliced.extend(classes.iter().map(|&c| row[c]));
    }
    let b: Vec<f32> = classes.iter().map(|&c| b[c]).collect();
    let m = classes.len() as i64;
    set_f32_values(&mut graph.initializer[head.weight], &sliced, vec![k as i64, m]);
    set_f32_values(&mut graph.initializer[head.bias], &b, vec![m]);
    // Declared shapes that still say N would contradict the new weights.
    for info in graph.value_info.iter_mut() {
        let dims = info.r#type.as_mut().and_then(|t| t.tensor_type.as_mut()).and_then(|t| t.shape.as_mut());
        if let Some(last) = dims.and_then(|s| s.dim.last_mut())
            && last.dim_value == Some(n as i64)
        {
            last.dim_value = Some(m);
        }
    }
    Ok(())
}

fn int_attr(name: &str, value: i64) -> AttributeProto {
    AttributeProto { name: Some(name.into()), i: Some(value), r#type: Some(AttributeType::INT), ..Default::default() }
}

fn output(name: &str, elem_type: DataType) -> ValueInfoProto {
    ValueInfoProto {
        name: Some(name.into()),
        r#type: Some(TypeProto {
            tensor_type: Some(TypeProtoTensor { elem_type: Some(elem_type), shape: None }),
            sequence: None,
        }),
    }
}

/// Ends the graph in the best class per frame and its probability (the
/// first of equal maxima, as greedy decoding always took).
fn reduce_to_best(graph: &mut GraphProto, probs: &str) {
    let node = |op: &str, out: &str, attribute: Vec<AttributeProto>| NodeProto {
        name: Some(out.into()),
        op_type: Some(op.into()),
        input: vec![probs.into()],
        output: vec![out.into()],
        attribute,
        ..Default::default()
    };
    let axes = AttributeProto {
        name: Some("axes".into()),
        ints: vec![-1],
        r#type: Some(AttributeType::INTS),
        ..Default::default()
    };
    graph.node.push(node("ArgMax", BEST_CLASS, vec![int_attr("axis", -1), int_attr("keepdims", 0)]));
    graph.node.push(node("ReduceMax", BEST_PROB, vec![axes, int_attr("keepdims", 0)]));
    graph.output = vec![output(BEST_CLASS, DataType::INT64), output(BEST_PROB, DataType::FLOAT)];
}

/// Rewrites a PP-OCR recognition graph: its head pruned to `classes` (sorted
/// indices into the head's classes) when given — kept whole, with a warning,
/// if that fails — and reduced to the best class per frame.
pub(crate) fn rewrite(onnx: &[u8], classes: Option<&[usize]>) -> Result<CtcGraph, HeadError> {
    let mut model = ModelProto::parse_buf(onnx).map_err(|e| fail(e.to_string()))?;
    let graph = model.graph.as_mut().ok_or_else(|| fail("no graph"))?;
    let head = find_head(graph)?;
    let pruned = match classes.map(|classes| prune(graph, &head, classes)) {
        Some(Ok(())) => true,
        Some(Err(e)) => {
            warn!("{e}; using the full head");
            false
        }
        None => false,
    };
    reduce_to_best(graph, &head.softmax_out);
    let onnx = model.write_buf().map_err(|e| fail(e.to_string()))?;
    Ok(CtcGraph { onnx, head_classes: head.n, pruned })
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

    /// `x[1, T, 2] → MatMul(W[2, 4]) → Add(b[4]) → Softmax → probs`: the
    /// shape of a PP-OCR head, small enough to check by hand.
    fn tiny_head() -> Vec<u8> {
        let node = |op: &str, input: &[&str], output: &str, attribute: Vec<AttributeProto>| NodeProto {
            op_type: Some(op.into()),
            name: Some(output.into()),
            input: input.iter().map(|s| s.to_string()).collect(),
            output: vec![output.into()],
            attribute,
            ..Default::default()
        };
        let mut weight = rten_onnx::onnx::TensorProto { name: Some("w".into()), ..Default::default() };
        weight.data_type = Some(DataType::FLOAT);
        set_f32_values(&mut weight, &[1., 0., 0., -1., 0., 1., 0., 2.], vec![2, 4]);
        let mut bias = rten_onnx::onnx::TensorProto { name: Some("b".into()), ..Default::default() };
        bias.data_type = Some(DataType::FLOAT);
        set_f32_values(&mut bias, &[0., 0., 0.5, 0.], vec![4]);
        let graph = GraphProto {
            node: vec![
                node("MatMul", &["x", "w"], "mm", vec![]),
                node("Add", &["mm", "b"], "logits", vec![]),
                node("Softmax", &["logits"], "probs", vec![int_attr("axis", -1)]),
            ],
            initializer: vec![weight, bias],
            input: vec![output("x", DataType::FLOAT)],
            output: vec![output("probs", DataType::FLOAT)],
            ..Default::default()
        };
        let model = ModelProto {
            ir_version: Some(7),
            graph: Some(graph),
            opset_import: vec![rten_onnx::onnx::OperatorSetIdProto { domain: Some(String::new()), version: Some(11) }],
            ..Default::default()
        };
        model.write_buf().unwrap()
    }

    /// Runs a rewritten graph with rten: (best class, its probability) per frame.
    fn best_per_frame(onnx: Vec<u8>, x: &[[f32; 2]]) -> Vec<(i32, f32)> {
        use rten_tensor::prelude::*;
        let model = rten::Model::load(onnx).unwrap();
        let input = rten_tensor::NdTensor::from_data([1, x.len(), 2], x.concat());
        let ids = [model.find_node(BEST_CLASS).unwrap(), model.find_node(BEST_PROB).unwrap()];
        let [class, prob] = model.run_n(vec![(model.input_ids()[0], input.into())], ids, None).unwrap();
        let class: rten_tensor::NdTensor<i32, 2> = class.try_into().unwrap();
        let prob: rten_tensor::NdTensor<f32, 2> = prob.try_into().unwrap();
        class.iter().copied().zip(prob.iter().copied()).collect()
    }

    fn softmax_best(logits: &[f32]) -> (i32, f32) {
        let sum: f32 = logits.iter().map(|l| l.exp()).sum();
        let (best, max) = logits.iter().enumerate().fold((0, f32::MIN), |a, (i, &l)| if l > a.1 { (i, l) } else { a });
        (best as i32, max.exp() / sum)
    }

    #[test]
    fn the_graph_ends_in_the_best_class_per_frame() {
        // Logits per frame: x · W + b = [x0, x1, 0.5, 2·x1 − x0].
        let x = [[2.0, 0.0], [0.0, 1.0], [-1.0, -1.0]];
        let logits = |f: [f32; 2]| [f[0], f[1], 0.5, 2.0 * f[1] - f[0]];
        let full = rewrite(&tiny_head(), None).unwrap();
        assert_eq!((full.head_classes, full.pruned), (4, false));
        let got = best_per_frame(full.onnx, &x);
        for (frame, (class, prob)) in x.iter().zip(&got) {
            let (want_class, want_prob) = softmax_best(&logits(*frame));
            assert_eq!(*class, want_class, "{frame:?}");
            assert!((prob - want_prob).abs() < 1e-5, "{frame:?}: {prob} vs {want_prob}");
        }
        // Pruned to classes 0, 2, 3: indices are into the kept classes and the
        // probabilities are over them alone.
        let pruned = rewrite(&tiny_head(), Some(&[0, 2, 3])).unwrap();
        assert_eq!((pruned.head_classes, pruned.pruned), (4, true));
        for (frame, (class, prob)) in x.iter().zip(best_per_frame(pruned.onnx, &x)) {
            let l = logits(*frame);
            let (want_class, want_prob) = softmax_best(&[l[0], l[2], l[3]]);
            assert_eq!(class, want_class, "{frame:?}");
            assert!((prob - want_prob).abs() < 1e-5, "{frame:?}: {prob} vs {want_prob}");
        }
        // A class list the head cannot have keeps the whole head.
        let kept = rewrite(&tiny_head(), Some(&[0, 9])).unwrap();
        assert!(!kept.pruned);
    }

    #[test]
    fn non_models_are_refused() {
        assert!(rewrite(b"not a model", Some(&[0, 1])).is_err());
        assert!(rewrite(b"not a model", None).is_err());
    }
}
