//! The stdio framing in front of the MCP server: one JSON-RPC message per line, checked before
//! the SDK sees it. A line that is not JSON gets a parse error (-32700), one that is JSON but no
//! JSON-RPC message an invalid-request error (-32600, with its id when it has one), and one
//! longer than [`MAX_MESSAGE`] is dropped unread with an error instead of being held in memory:
//! every message gets an answer, and a bad one never stalls the session.

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc;

/// The longest message read (a tool call's arguments are small; a context text can be long).
pub const MAX_MESSAGE: usize = 8 << 20;

/// What one line from the client is.
#[derive(Debug, PartialEq)]
enum Line {
    /// A JSON-RPC message: handed to the server.
    Message,
    /// Nothing (a blank line).
    Blank,
    /// An error to answer with.
    Refused(Value),
}

fn error(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

fn classify(line: &[u8]) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    let value: Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return Line::Refused(error(Value::Null, -32700, format!("parse error: {e}"))),
    };
    let is_message = |v: &Value| {
        v.get("jsonrpc").and_then(Value::as_str) == Some("2.0")
            && (v.get("method").is_some_and(Value::is_string)
                || v.get("result").is_some()
                || v.get("error").is_some())
    };
    let ok = match &value {
        Value::Object(_) => is_message(&value),
        Value::Array(items) => !items.is_empty() && items.iter().all(is_message),
        _ => false,
    };
    if ok {
        Line::Message
    } else {
        let id = value.get("id").cloned().unwrap_or(Value::Null);
        Line::Refused(error(
            id,
            -32600,
            "invalid request: not a JSON-RPC 2.0 message (jsonrpc \"2.0\" and a method)".into(),
        ))
    }
}

/// Reads lines from `input` (the client), forwarding JSON-RPC messages to `server` and errors
/// to `errors`, until the client closes its end; then closes `server`'s input.
pub async fn read_client(
    input: impl AsyncRead + Unpin,
    mut server: impl AsyncWrite + Unpin,
    errors: mpsc::Sender<Value>,
) {
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        // At most one byte over the limit is read; the rest of a longer line is skipped.
        let read = (&mut input)
            .take(MAX_MESSAGE as u64 + 1)
            .read_until(b'\n', &mut line)
            .await;
        let Ok(n) = read else { break };
        if n == 0 {
            break;
        }
        if line.len() > MAX_MESSAGE && line.last() != Some(&b'\n') {
            let mut skipped = line.len();
            loop {
                let buf = match input.fill_buf().await {
                    Ok(b) if !b.is_empty() => b,
                    _ => break,
                };
                let (used, done) = match buf.iter().position(|b| *b == b'\n') {
                    Some(i) => (i + 1, true),
                    None => (buf.len(), false),
                };
                skipped += used;
                input.consume(used);
                if done {
                    break;
                }
            }
            let refused = error(
                Value::Null,
                -32600,
                format!("invalid request: the message is {skipped} bytes; at most {MAX_MESSAGE} are read"),
            );
            if errors.send(refused).await.is_err() {
                break;
            }
            continue;
        }
        match classify(&line) {
            Line::Blank => {}
            Line::Message => {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                if server.write_all(&line).await.is_err() {
                    break;
                }
            }
            Line::Refused(e) => {
                if errors.send(e).await.is_err() {
                    break;
                }
            }
        }
    }
    let _ = server.shutdown().await;
}

/// Writes the server's lines and the framing's errors to `output`, whole lines only, until the
/// server has ended (errors still queued then are written too).
pub async fn write_client(
    server: impl AsyncRead + Unpin,
    mut errors: mpsc::Receiver<Value>,
    mut output: impl AsyncWrite + Unpin,
) {
    let mut server = BufReader::new(server).lines();
    let mut errors_open = true;
    loop {
        let line = tokio::select! {
            l = server.next_line() => match l {
                Ok(Some(l)) => l,
                _ => break,
            },
            e = errors.recv(), if errors_open => match e {
                Some(e) => e.to_string(),
                None => { errors_open = false; continue }
            },
        };
        if !put_line(&mut output, &line).await {
            return;
        }
    }
    while let Ok(e) = errors.try_recv() {
        if !put_line(&mut output, &e.to_string()).await {
            return;
        }
    }
}

/// Writes one line and flushes it; false once the client is gone.
async fn put_line(output: &mut (impl AsyncWrite + Unpin), line: &str) -> bool {
    output
        .write_all(format!("{line}\n").as_bytes())
        .await
        .is_ok()
        && output.flush().await.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_line_is_told_apart() {
        assert_eq!(classify(b"\n"), Line::Blank);
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#),
            Line::Message
        );
        assert_eq!(
            classify(br#"[{"jsonrpc":"2.0","method":"notifications/initialized"}]"#),
            Line::Message
        );
        let Line::Refused(e) = classify(b"this is not json") else {
            panic!("taken");
        };
        assert_eq!(e["error"]["code"], -32700);
        assert_eq!(e["id"], Value::Null);
        let Line::Refused(e) = classify(br#"{"jsonrpc":"2.0","id":7}"#) else {
            panic!("taken");
        };
        assert_eq!(
            (e["error"]["code"].clone(), e["id"].clone()),
            (json!(-32600), json!(7))
        );
        assert!(matches!(classify(b"[]"), Line::Refused(_)));
        assert!(matches!(classify(b"42"), Line::Refused(_)));
    }

    #[tokio::test]
    async fn an_over_long_line_is_skipped_with_an_error_and_the_next_goes_through() {
        let mut input = vec![b'x'; MAX_MESSAGE + 1000];
        input.push(b'\n');
        input.extend_from_slice(b"{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
        let (server_in, mut server_out) = tokio::io::duplex(1 << 16);
        let (tx, mut rx) = mpsc::channel(4);
        let reading = tokio::spawn(read_client(std::io::Cursor::new(input), server_in, tx));
        let mut got = String::new();
        server_out.read_to_string(&mut got).await.expect("read");
        reading.await.expect("ends");
        assert_eq!(got, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"ping\"}\n");
        let e = rx.recv().await.expect("an error");
        assert_eq!(e["error"]["code"], -32600);
        assert!(e["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains(&format!("{} bytes", MAX_MESSAGE + 1001))));
    }
}
