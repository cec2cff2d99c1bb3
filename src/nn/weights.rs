//! Network weights as safetensors files in PyTorch's Linear layout (`layers.{l}.weight` [out, in], `layers.{l}.bias`),
//! with `{"format": "pt"}` metadata so `safetensors.torch.load_file` reads them.

use super::TimeNet;
use crate::atomic::write_atomic;
use crate::error::{Error, Result};
use safetensors::tensor::{Dtype, SafeTensors, TensorView};
use std::collections::HashMap;
use std::path::Path;

/// Serialises `params` of `net` to safetensors bytes; `extra` goes into the header metadata.
pub fn to_bytes(net: &TimeNet, params: &[f32], extra: &[(&str, String)]) -> Vec<u8> {
    let mut buffers: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (l, layer) in net.mlp.layers().iter().enumerate() {
        // Transpose our [in, out] to PyTorch's [out, in].
        let mut w = Vec::with_capacity(layer.fan_in * layer.fan_out * 4);
        for o in 0..layer.fan_out {
            for i in 0..layer.fan_in {
                w.extend_from_slice(&params[layer.weight + i * layer.fan_out + o].to_le_bytes());
            }
        }
        buffers.push((format!("layers.{l}.weight"), vec![layer.fan_out, layer.fan_in], w));
        let b: Vec<u8> = params[layer.bias..layer.bias + layer.fan_out]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        buffers.push((format!("layers.{l}.bias"), vec![layer.fan_out], b));
    }
    let views: Vec<(String, TensorView)> = buffers
        .iter()
        .map(|(name, shape, data)| {
            (
                name.clone(),
                TensorView::new(Dtype::F32, shape.clone(), data).expect("shape matches data"),
            )
        })
        .collect();
    let mut metadata: HashMap<String, String> = HashMap::new();
    metadata.insert("format".into(), "pt".into());
    metadata.insert("dim".into(), net.dim.to_string());
    metadata.insert("time_embedding".into(), net.embedding.to_string());
    if net.classes > 0 {
        metadata.insert("classes".into(), net.classes.to_string());
    }
    for (k, v) in extra {
        metadata.insert(k.to_string(), v.clone());
    }
    let bytes = safetensors::tensor::serialize(views, Some(metadata)).expect("safetensors serialisation");
    canonical_header(bytes)
}

/// Rewrites the JSON header with its keys sorted (the crate takes metadata as a `HashMap`, whose order changes
/// from process to process), padded with spaces to the same length, so equal weights give equal files.
fn canonical_header(mut bytes: Vec<u8>) -> Vec<u8> {
    let len = u64::from_le_bytes(bytes[..8].try_into().expect("8-byte length")) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + len]).expect("valid header");
    // serde_json's map is ordered by key, so this serialisation is canonical.
    let mut sorted = serde_json::to_vec(&header).expect("json");
    assert!(sorted.len() <= len, "a reordered header is never longer");
    sorted.resize(len, b' ');
    bytes[8..8 + len].copy_from_slice(&sorted);
    bytes
}

/// Writes the weights of `net` to `path` atomically.
pub fn save(path: &Path, net: &TimeNet, params: &[f32], extra: &[(&str, String)]) -> Result<()> {
    write_atomic(path, &to_bytes(net, params, extra))
}

/// Reads weights written by [`save`] for the architecture `net` (checked as [`from_bytes`] does).
pub fn load(path: &Path, net: &TimeNet) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::read(path, e))?;
    from_bytes(&bytes, net).map_err(|message| Error::invalid(path.display().to_string(), message))
}

/// Parses safetensors bytes into a flat parameter vector for `net`. Every tensor must be there with dtype F32
/// and exactly the shape of `net`'s layer, there must be no other tensor, and every weight must be finite.
pub fn from_bytes(bytes: &[u8], net: &TimeNet) -> std::result::Result<Vec<f32>, String> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let layers = net.mlp.layers();
    if tensors.len() != 2 * layers.len() {
        return Err(format!(
            "holds {} tensors, expected {} (a weight and a bias per layer)",
            tensors.len(),
            2 * layers.len()
        ));
    }
    let mut params = vec![0f32; net.mlp.param_count()];
    for (l, layer) in layers.iter().enumerate() {
        let w = tensor(&tensors, &format!("layers.{l}.weight"), &[layer.fan_out, layer.fan_in])?;
        for (k, v) in w.into_iter().enumerate() {
            let (o, i) = (k / layer.fan_in, k % layer.fan_in);
            params[layer.weight + i * layer.fan_out + o] = v;
        }
        let b = tensor(&tensors, &format!("layers.{l}.bias"), &[layer.fan_out])?;
        params[layer.bias..layer.bias + layer.fan_out].copy_from_slice(&b);
    }
    if let Some(i) = params.iter().position(|v| !v.is_finite()) {
        return Err(format!("parameter {i} is {}, not a finite number", params[i]));
    }
    Ok(params)
}

/// The values of the F32 tensor `name`, which must have `shape`.
fn tensor(tensors: &SafeTensors, name: &str, shape: &[usize]) -> std::result::Result<Vec<f32>, String> {
    let t = tensors.tensor(name).map_err(|e| format!("{name}: {e}"))?;
    if t.dtype() != Dtype::F32 {
        return Err(format!("{name} has dtype {:?}, expected F32", t.dtype()));
    }
    if t.shape() != shape {
        return Err(format!("{name} has shape {:?}, expected {shape:?}", t.shape()));
    }
    Ok(t.data()
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Stream, derive};

    #[test]
    fn round_trip_preserves_every_parameter_and_uses_pytorch_layout() {
        let net = TimeNet::new(2, 4, &[3], 2, false);
        let mut params: Vec<f32> = net.mlp.init(&mut derive(0, Stream::Init, &[]));
        params.iter_mut().enumerate().for_each(|(i, p)| *p += i as f32);
        let bytes = to_bytes(&net, &params, &[("role", "expert".into())]);
        assert_eq!(from_bytes(&bytes, &net).unwrap(), params);
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let w = st.tensor("layers.0.weight").unwrap();
        assert_eq!(w.shape(), [3, 6]);
        // Element [out=1, in=0] is our W[0, 1].
        let v = f32::from_le_bytes(w.data()[4 * 6..4 * 7].try_into().unwrap());
        assert_eq!(v, params[1]);
        let (_, meta) = SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(meta.metadata().as_ref().unwrap()["format"], "pt");
        // Equal weights give equal bytes, whatever order the metadata map iterates in.
        for _ in 0..5 {
            assert_eq!(to_bytes(&net, &params, &[("role", "expert".into())]), bytes);
        }
    }

    #[test]
    fn wrong_shapes_dtypes_extra_tensors_and_nan_are_rejected() {
        let net = TimeNet::new(2, 4, &[3], 2, false);
        let params: Vec<f32> = net.mlp.init(&mut derive(0, Stream::Init, &[]));
        let good = to_bytes(&net, &params, &[]);
        type Tensors = Vec<(String, Dtype, Vec<usize>, Vec<u8>)>;
        let rewrite = |edit: &dyn Fn(&mut Tensors)| {
            let st = SafeTensors::deserialize(&good).unwrap();
            let mut t: Tensors = st
                .tensors()
                .into_iter()
                .map(|(n, v)| (n, v.dtype(), v.shape().to_vec(), v.data().to_vec()))
                .collect();
            edit(&mut t);
            let views: Vec<(String, TensorView)> = t
                .iter()
                .map(|(n, d, s, b)| (n.clone(), TensorView::new(*d, s.clone(), b).unwrap()))
                .collect();
            safetensors::tensor::serialize(views, None).unwrap()
        };
        let bias = |t: &mut Tensors, len: usize| {
            let b = t.iter_mut().find(|x| x.0 == "layers.0.bias").unwrap();
            b.2 = vec![len];
            b.3 = vec![0u8; 4 * len];
        };
        let err = |bytes: Vec<u8>| from_bytes(&bytes, &net).unwrap_err();
        assert!(err(rewrite(&|t| bias(t, 2))).contains("layers.0.bias has shape [2]"));
        assert!(err(rewrite(&|t| bias(t, 9))).contains("layers.0.bias has shape [9]"));
        let f16 = rewrite(&|t| {
            let w = t.iter_mut().find(|x| x.0 == "layers.1.weight").unwrap();
            w.1 = Dtype::F16;
            w.3.truncate(w.3.len() / 2);
        });
        assert!(err(f16).contains("dtype F16"));
        let extra = rewrite(&|t| t.push(("extra".into(), Dtype::F32, vec![1], vec![0; 4])));
        assert!(err(extra).contains("holds 5 tensors"));
        let nan = rewrite(&|t| t[0].3[..4].copy_from_slice(&f32::NAN.to_le_bytes()));
        assert!(err(nan).contains("not a finite number"));
    }
}
