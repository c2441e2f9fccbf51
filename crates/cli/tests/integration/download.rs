//! Locating and downloading the dataset, against a server on 127.0.0.1 serving the shared file.

use crate::common;

use ae::data::download::{download, locate_in, Checksum, DownloadError, Progress, Source};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::TcpListener;

/// Serves `body` to `requests` connections, then stops.
fn serve(body: Vec<u8>, requests: usize) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/files/olivettifaces", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().take(requests) {
            let mut stream = stream.unwrap();
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let head =
                format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len());
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    url
}

fn source(url: String, sha256: String) -> Source {
    Source {
        url,
        checksum: Checksum::Sha256(sha256),
        file_name: "olivettifaces.mat".into(),
        env_var: "AE_TEST_UNUSED",
    }
}

#[test]
fn downloads_into_the_cache_once_and_verifies_the_checksum() {
    let body = std::fs::read(common::olivetti()).unwrap();
    let sha = format!("{:x}", Sha256::digest(&body));
    let cache = tempfile::tempdir().unwrap();
    let src = source(serve(body.clone(), 1), sha);

    // The caller hears of the download as it goes: from 0 to every byte, finished once.
    let heard = std::sync::Mutex::new(Vec::new());
    let progress =
        |p: &Progress<'_>| heard.lock().unwrap().push((p.file_name.to_string(), p.done, p.finished));
    let path = locate_in(&src, None, None, Some(cache.path().to_path_buf()), &progress).unwrap();
    let heard = heard.into_inner().unwrap();
    let length = body.len() as u64;
    assert!(heard.iter().all(|(name, done, _)| name == "olivettifaces.mat" && *done <= length), "{heard:?}");
    assert_eq!(
        (heard.first().map(|h| h.1), heard.last().map(|h| (h.1, h.2))),
        (Some(0), Some((length, true)))
    );
    assert_eq!(heard.iter().filter(|h| h.2).count(), 1);
    assert!(heard.windows(2).all(|w| w[0].1 <= w[1].1));
    assert_eq!(path, cache.path().join("olivettifaces.mat"));
    assert_eq!(std::fs::read(&path).unwrap(), body);
    assert_eq!(ae::data::load_olivetti(&path).unwrap().len(), 400);
    // The server has stopped: a second lookup must come from the cache.
    assert_eq!(locate_in(&src, None, None, Some(cache.path().to_path_buf()), &|_| {}).unwrap(), path);
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 1, "no temporary files are left behind");
}

#[test]
fn a_checksum_mismatch_keeps_nothing_and_says_how_to_pass_the_file() {
    let body = std::fs::read(common::olivetti()).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let dest = cache.path().join("olivettifaces.mat");
    // The canonical checksum: the shared copy differs from the canonical file byte for byte.
    let src = Source { url: serve(body, 1), ..Source::olivetti() };
    let err = download(&src, &dest, &|_| {}).unwrap_err();
    assert!(matches!(err, DownloadError::Checksum { .. }), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("data.path") && msg.contains("AE_OLIVETTI") && !msg.contains('\n'), "{msg}");
    assert_eq!(std::fs::read_dir(cache.path()).unwrap().count(), 0);
}

#[test]
fn offline_is_a_one_line_error() {
    // Nothing listens on this port once the listener is dropped.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let cache = tempfile::tempdir().unwrap();
    let src = source(format!("http://127.0.0.1:{port}/x"), "00".into());
    let err = locate_in(&src, None, None, Some(cache.path().to_path_buf()), &|_| {}).unwrap_err();
    assert!(matches!(err, DownloadError::Fetch { .. }), "{err}");
    assert!(err.to_string().contains("data.path"));
}

#[test]
fn explicit_paths_and_the_environment_come_first() {
    let shared = common::olivetti();
    let src = source("http://127.0.0.1:9/never".into(), "00".into());
    assert_eq!(locate_in(&src, Some(&shared), None, None, &|_| {}).unwrap(), shared);
    assert_eq!(locate_in(&src, None, Some(shared.clone()), None, &|_| {}).unwrap(), shared);
    let err =
        locate_in(&src, Some(std::path::Path::new("/no/such/faces.mat")), None, None, &|_| {}).unwrap_err();
    assert!(err.to_string().contains("/no/such/faces.mat") && err.to_string().contains("data.path"));
}

#[test]
fn mnist_downloads_are_checked_by_md5() {
    use md5::Digest as _;
    let body = std::fs::read(common::datasets().join("mnist/t10k-images-idx3-ubyte.gz")).unwrap();
    let md5 = format!("{:x}", md5::Md5::digest(&body));
    let cache = tempfile::tempdir().unwrap();
    let src = Source { url: serve(body.clone(), 1), checksum: Checksum::Md5(md5), ..Source::mnist() };
    let path = locate_in(&src, None, None, Some(cache.path().to_path_buf()), &|_| {}).unwrap();
    assert_eq!(std::fs::read(&path).unwrap(), body);
    // The canonical MD5 is that of the 60 000-image training file, so the test set fails it.
    let src = Source { url: serve(body, 1), ..Source::mnist() };
    let err = download(&src, &cache.path().join("other.gz"), &|_| {}).unwrap_err();
    assert!(matches!(err, DownloadError::Checksum { .. }) && err.to_string().contains("AE_MNIST"), "{err}");
}
