//! `ehr` with several RPC endpoints, against local sockets (no chain): the endpoints come from the
//! deploy file, EHR_RPC or repeated `--rpc` flags; a refusing or silent endpoint is passed over
//! with one line on stderr; all of them down is "node down" naming each.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread;

use base64::Engine;

/// A port that was bound and closed again: connecting is refused.
fn refused() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// Accepts connections and never answers, like a node whose link is cut.
fn silent() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    url
}

/// Answers every request as a node with one active patient would answer `patient_count`.
fn answering() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let data = br#"{"active":1,"pending":0,"deleted":0,"total":1}"#;
    // QuerySmartContractStateResponse { data }: field 1, length-delimited.
    let mut value = vec![0x0a, data.len() as u8];
    value.extend_from_slice(data);
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":0,"result":{{"response":{{"code":0,"log":"","info":"","index":"0","key":null,"value":"{}","proofOps":null,"height":"5","codespace":""}}}}}}"#,
        base64::engine::general_purpose::STANDARD.encode(value)
    );
    thread::spawn(move || {
        for mut socket in listener.incoming().flatten() {
            let body = body.clone();
            thread::spawn(move || {
                let mut request = Vec::new();
                let mut buffer = [0u8; 4096];
                while let Ok(n @ 1..) = socket.read(&mut buffer) {
                    request.extend_from_slice(&buffer[..n]);
                    let text = String::from_utf8_lossy(&request);
                    if text.contains("\r\n\r\n") && text.trim_end().ends_with('}') {
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
                            body.len()
                        );
                        socket.write_all(response.as_bytes()).unwrap();
                        request.clear();
                    }
                }
            });
        }
    });
    url
}

/// `ehr patient count` with a deploy file carrying `file_urls` and the given environment and flags.
fn ehr(file_rpc: serde_json::Value, env_rpc: Option<&str>, args: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let mut deploy = serde_json::json!({
        "chain_id": "ehr-local-1",
        "denom": "stake",
        "bech32_prefix": "wasm",
        "contracts": {
            "registry": {"address": "wasm14hj2tavq8fpesdwxxcu44rty3hh90vhujrvcmstl4zr3txmfvw9s0phg4d"},
            "access": {"address": "wasm1nc5tatafv6eyq7llkr2gv50ff9e22mnf70qgjlv737ktmt4eswrqr5j2ht"},
        },
    });
    for (key, value) in file_rpc.as_object().unwrap() {
        deploy[key] = value.clone();
    }
    let config = dir.path().join("deploy.json");
    std::fs::write(&config, deploy.to_string()).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_ehr"));
    command
        .current_dir(dir.path())
        .env_remove("EHR_RPC")
        .env_remove("EHR_RPC_TIMEOUT")
        .env("EHR_HOME", dir.path().join("home"))
        .args(["--config", config.to_str().unwrap(), "--rpc-timeout", "1"])
        .args(args)
        .args(["patient", "count"]);
    if let Some(rpc) = env_rpc {
        command.env("EHR_RPC", rpc);
    }
    command.output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn all_endpoints_of_the_deploy_file_down_is_node_down_naming_each() {
    let (first, second) = (refused(), silent());
    let output = ehr(
        serde_json::json!({"rpc_url": first, "rpc_urls": [first, second]}),
        None,
        &[],
    );
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(text.contains("node down"), "{text}");
    let (at_first, at_second) = (text.find(&first).unwrap(), text.find(&second).unwrap());
    assert!(at_first < at_second, "{text}");
    assert!(!text.contains("does not answer;"), "{text}");
}

#[test]
fn ehr_rpc_lists_endpoints_and_a_refusing_one_is_passed_over_once() {
    let (down, up) = (refused(), answering());
    let output = ehr(
        serde_json::json!({"rpc_url": refused()}),
        Some(&format!("{down},{up}")),
        &[],
    );
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert_eq!(
        text.trim(),
        format!("node {down} does not answer; using {up}")
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "active 1  pending 0  deleted 0  total 1"
    );
}

#[test]
fn rpc_flags_repeat_and_override_the_environment() {
    let (down, cut, up) = (refused(), silent(), answering());
    let output = ehr(
        serde_json::json!({"rpc_url": refused()}),
        Some(&refused()),
        &["--rpc", &down, "--rpc", &format!("{cut},{up}")],
    );
    let text = stderr(&output);
    assert!(output.status.success(), "{text}");
    assert_eq!(
        text.trim(),
        format!("nodes {down}, {cut} do not answer; using {up}")
    );
}
