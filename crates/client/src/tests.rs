//! The client on its own: encoding, a missing host, error codes.

use sidekick_protocol::ErrorCode;

use super::*;

#[test]
fn encodes_reserved_characters() {
    assert_eq!(encode("brave-otter"), "brave-otter");
    assert_eq!(encode("a b/c?&"), "a%20b%2Fc%3F%26");
}

#[tokio::test]
async fn a_missing_host_is_reported_as_such() {
    let dir = tempfile_dir();
    let client = Client::new(&Home::at(&dir));
    match client.health().await {
        Err(ClientError::NoHost(p)) => assert_eq!(p, dir),
        other => panic!("expected NoHost, got {other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

fn tempfile_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("sidekick-client-test-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

#[test]
fn api_errors_keep_their_code() {
    let e = error_from(
        StatusCode::NOT_FOUND,
        Bytes::from_static(br#"{"code":"unknown_job","message":"no job matches 'x'"}"#),
    );
    assert_eq!(e.to_api().code, ErrorCode::UnknownJob);
    assert_eq!(e.to_string(), "no job matches 'x'");
    let garbage = error_from(StatusCode::BAD_GATEWAY, Bytes::from_static(b"oops"));
    assert!(matches!(garbage, ClientError::Protocol(_)));
}
