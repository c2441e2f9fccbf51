//! The Olivetti loader on the real file, and on damaged copies of it.

use crate::common;

use ae::config::Resize;
use ae::data::{load_olivetti, DataError};

#[test]
fn pixels_match_scikit_learn() {
    let faces = load_olivetti(&common::olivetti()).unwrap();
    assert_eq!((faces.len(), faces.shape.height, faces.shape.width, faces.shape.channels), (400, 64, 64, 1));
    assert_eq!(&faces.image(0)[..3], &[0.30991736, 0.3677686, 0.41735536]);
    // The peers' copy was made by scikit-learn's own loader: every pixel must agree.
    let peer: ndarray::Array3<f32> =
        ndarray_npy::read_npy(common::peer_data().join("olivetti_64.npy")).unwrap();
    assert_eq!(peer.shape(), [400, 64, 64]);
    let worst = peer.iter().zip(&faces.data).map(|(a, b)| (a - b).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-6, "largest difference from scikit-learn: {worst}");
}

#[test]
fn the_seed_resize_is_a_plain_subsample() {
    let faces = load_olivetti(&common::olivetti()).unwrap();
    let small = faces.downscale(32, 32, Resize::Subsample).unwrap();
    assert_eq!(small.image(7)[3 * 32 + 5], faces.image(7)[6 * 64 + 10]);
    let area = faces.downscale(32, 32, Resize::Area).unwrap();
    let block = [
        faces.image(7)[6 * 64 + 10],
        faces.image(7)[6 * 64 + 11],
        faces.image(7)[7 * 64 + 10],
        faces.image(7)[7 * 64 + 11],
    ];
    assert!((area.image(7)[3 * 32 + 5] - block.iter().sum::<f32>() / 4.0).abs() < 1e-6);
}

#[test]
fn damaged_files_give_one_line_errors_naming_the_file() {
    let bytes = std::fs::read(common::olivetti()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("damaged.mat");
    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("header only", bytes[..128].to_vec()),
        ("truncated tag", bytes[..131].to_vec()),
        ("truncated body", bytes[..bytes.len() / 2].to_vec()),
        ("one byte short", bytes[..bytes.len() - 1].to_vec()),
        ("not a mat file", b"P5\n64 64\n255\n".repeat(20)),
    ];
    let mut corrupt = bytes.clone();
    for b in &mut corrupt[300..400] {
        *b ^= 0x5a;
    }
    cases.push(("corrupt zlib stream", corrupt));
    let mut big_endian = bytes.clone();
    big_endian[126..128].copy_from_slice(b"MI");
    cases.push(("big-endian", big_endian));
    for (what, data) in cases {
        std::fs::write(&path, &data).unwrap();
        let err = load_olivetti(&path).expect_err(what);
        let msg = err.to_string();
        assert!(matches!(err, DataError::Mat { .. }), "{what}: {msg}");
        assert!(msg.contains("damaged.mat") && !msg.contains('\n'), "{what}: {msg}");
    }
    let missing = load_olivetti(&dir.path().join("nope.mat")).unwrap_err().to_string();
    assert!(missing.contains("nope.mat"), "{missing}");
}
