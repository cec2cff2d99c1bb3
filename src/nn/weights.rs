//! Network weights as safetensors files in PyTorch's Linear layout (`layers.{l}.weight` [out, in], `layers.{l}.bias`),
//! with `{"format": "pt"}` metadata so `safetensors.torch.load_file` reads them.

use super::TimeNet;
use crate::error::{Error, Result};
use crate::output::write_atomic;
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

/// Reads weights written by [`save`] for the architecture `net`.
pub fn load(path: &Path, net: &TimeNet) -> Result<Vec<f32>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, net).map_err(|message| Error::invalid(path.display().to_string(), message))
}

/// Parses safetensors bytes into a flat parameter vector for `net`.
pub fn from_bytes(bytes: &[u8], net: &TimeNet) -> std::result::Result<Vec<f32>, String> {
    let tensors = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let mut params = vec![0f32; net.mlp.param_count()];
    for (l, layer) in net.mlp.layers().iter().enumerate() {
        let w = tensors
            .tensor(&format!("layers.{l}.weight"))
            .map_err(|e| e.to_string())?;
        if w.shape() != [layer.fan_out, layer.fan_in] {
            return Err(format!(
                "layers.{l}.weight has shape {:?}, expected [{}, {}]",
                w.shape(),
                layer.fan_out,
                layer.fan_in
            ));
        }
        for (k, chunk) in w.data().chunks_exact(4).enumerate() {
            let (o, i) = (k / layer.fan_in, k % layer.fan_in);
            params[layer.weight + i * layer.fan_out + o] = f32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
        let b = tensors.tensor(&format!("layers.{l}.bias")).map_err(|e| e.to_string())?;
        for (k, chunk) in b.data().chunks_exact(4).enumerate() {
            params[layer.bias + k] = f32::from_le_bytes(chunk.try_into().expect("4 bytes"));
        }
    }
    Ok(params)
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
}
