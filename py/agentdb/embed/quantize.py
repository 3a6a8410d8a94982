"""The int8 variant of a BERT encoder's weights: each Linear weight [out, in] becomes int8
with one float32 scale per output channel (its row), absmax / 127; everything else (the
embeddings, biases, LayerNorms) stays float32. The kernel accumulates in float32 and scales
each output once (agk_gemm_i8f32).

Pure Python, the same in every home: the arithmetic is float64 rounded once to float32 for
the scale, then round-half-even of w / scale, so a derived file has the same bytes wherever
it is made.
"""
import array

from .. import safetensors
from ..errors import ArgumentError

FORMAT = "agentdb-int8-per-channel-v1"
_LINEAR_ENDINGS = ("attention.self.query.weight", "attention.self.key.weight", "attention.self.value.weight",
                   "attention.output.dense.weight", "intermediate.dense.weight", "output.dense.weight")


def quantize_rows(values, cols):
    """(int8 bytes, float32 scales) of a row-major matrix given as a float array."""
    codes, scales = array.array("b"), array.array("f")
    for start in range(0, len(values), cols):
        row = values[start:start + cols]
        peak = max(map(abs, row), default=0.0)
        scales.append(peak / 127 if peak else 1.0)
        scale = scales[-1]
        codes.extend(max(-127, min(127, round(v / scale))) for v in row)
    return codes, scales


def quantize_bert(weights, *, progress=None):
    """The tensors (name -> (dtype, shape, bytes)) of the int8 variant of a BERT encoder's
    float32 weights; progress(done, total) after each Linear."""
    linear = [n for n in weights if n.startswith("encoder.layer.") and n.endswith(_LINEAR_ENDINGS)]
    out, done = {}, 0
    for name, t in weights.items():
        if name in linear:
            rows, cols = t.shape
            codes, scales = quantize_rows(t.as_array(), cols)
            out[name] = ("I8", [rows, cols], codes.tobytes())
            out[name[:-len("weight")] + "weight_scale"] = ("F32", [rows], scales.tobytes())
            done += 1
            if progress:
                progress(done, len(linear))
        else:
            out[name] = (t.dtype, list(t.shape), t.data)
    return out


def derive_int8(source, destination, *, progress=None):
    """Writes the int8 variant of the float32 SafeTensors file `source` to `destination`
    (through a temporary file and a rename: never a half-written model)."""
    weights = safetensors.load(source)
    tensors = quantize_bert(weights, progress=progress)
    if not any(t[0] == "I8" for t in tensors.values()):
        raise ArgumentError(f"{source} has no BERT encoder Linear weights to quantize")
    safetensors.save_file(tensors, destination, metadata={"format": FORMAT})

