//! Skills (SEP-2640) from the client's side, against a small server on an
//! in-process pipe that serves one skill and records every request: the
//! listing reads nothing, a skill is loaded only when it passes
//! verification, and a tampered or unlisted file is refused.
#![cfg(feature = "skills")]

use mcp_sdk_client::skills::{SkillError, SKILLS_EXTENSION};
use mcp_sdk_client::transport::IoTransport;
use mcp_sdk_client::{Client, Era};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const SKILL_URI: &str = "skill://pdf-processing/SKILL.md";
const FORMS_URI: &str = "skill://pdf-processing/references/FORMS.md";
const SKILL_MD: &str = "---\nname: pdf-processing\ndescription: Extract, fill, and assemble PDF documents\nmetadata:\n  version: \"2.1\"\n---\n\nRead references/FORMS.md for forms.\n";
const FORMS_MD: &str = "Forms.\n";

fn digest(text: &str) -> String {
    format!("sha256:{:x}", Sha256::digest(text.as_bytes()))
}

/// How the server serves the skill.
#[derive(Clone, Copy, PartialEq)]
enum Serving {
    Honest,
    /// SKILL.md's bytes differ from the listed digest.
    TamperedBody,
    /// SKILL.md has more bytes than listed.
    LongerBody,
    /// SKILL.md's frontmatter differs from the listed one (digest and
    /// size match the tampered text).
    OtherFrontmatter,
    /// The entry lists no files.
    NoResources,
    /// The server does not declare the extension.
    NoExtension,
}

fn skill_md(serving: Serving) -> String {
    match serving {
        Serving::TamperedBody => SKILL_MD.replace("forms.", "farms."),
        Serving::LongerBody => format!("{SKILL_MD}more\n"),
        Serving::OtherFrontmatter => SKILL_MD.replace("Extract, fill", "Exfiltrate"),
        _ => SKILL_MD.to_owned(),
    }
}

fn entry(serving: Serving) -> Value {
    let listed_md = if serving == Serving::OtherFrontmatter {
        skill_md(serving)
    } else {
        SKILL_MD.to_owned()
    };
    let mut entry = json!({
        "uri": SKILL_URI,
        "frontmatter": {"name": "pdf-processing",
                        "description": "Extract, fill, and assemble PDF documents",
                        "metadata": {"version": "2.1"}},
        "resources": [
            {"uri": SKILL_URI, "digest": digest(&listed_md), "size": listed_md.len()},
            {"uri": FORMS_URI, "digest": digest(FORMS_MD), "size": FORMS_MD.len()}
        ]
    });
    if serving == Serving::NoResources {
        entry.as_object_mut().unwrap().remove("resources");
    }
    entry
}

/// The server's answer to `request`.
fn answer(serving: Serving, request: &Value) -> Value {
    let result = match request["method"].as_str().unwrap_or_default() {
        "initialize" => {
            let mut capabilities = json!({"resources": {}});
            if serving != Serving::NoExtension {
                capabilities["extensions"] = json!({ SKILLS_EXTENSION: {} });
            }
            json!({"protocolVersion": "2025-11-25", "capabilities": capabilities,
                   "serverInfo": {"name": "skills", "version": "1"}})
        }
        // Two pages: the skill, then a second one.
        "skills/list" if request["params"]["cursor"] == "2" => json!({"skills": [
            {"uri": "skill://other/SKILL.md",
             "frontmatter": {"name": "other", "description": "Another"}, "resources": []}
        ]}),
        "skills/list" => json!({"skills": [entry(serving)], "nextCursor": "2"}),
        "skills/get" if request["params"]["uri"] == SKILL_URI => json!({"skill": entry(serving)}),
        "skills/get" => {
            return json!({"jsonrpc": "2.0", "id": request["id"],
                          "error": {"code": -32602, "message": "no such skill"}})
        }
        "resources/read" => {
            let uri = request["params"]["uri"].as_str().unwrap_or_default();
            let text = if uri == FORMS_URI {
                FORMS_MD.to_owned()
            } else {
                skill_md(serving)
            };
            json!({"contents": [{"uri": uri, "mimeType": "text/markdown", "text": text}]})
        }
        _ => json!({}),
    };
    json!({"jsonrpc": "2.0", "id": request["id"], "result": result})
}

/// Connects to a server serving as `serving`; the methods (and read URIs)
/// it is asked for land in the returned log.
async fn connect(serving: Serving) -> (Client, Arc<Mutex<Vec<String>>>) {
    let (client_end, server_end) = tokio::io::duplex(64 * 1024);
    let log = Arc::new(Mutex::new(Vec::new()));
    let heard = log.clone();
    tokio::spawn(async move {
        let (read, mut write) = tokio::io::split(server_end);
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let request: Value = serde_json::from_str(&line).unwrap();
            let method = request["method"].as_str().unwrap_or_default().to_owned();
            if request.get("id").is_none() {
                continue;
            }
            let entry = match request["params"]["uri"].as_str() {
                Some(uri) => format!("{method} {uri}"),
                None => method,
            };
            heard.lock().unwrap().push(entry);
            let mut out = answer(serving, &request).to_string();
            out.push('\n');
            if write.write_all(out.as_bytes()).await.is_err() {
                return;
            }
        }
    });
    let (read, write) = tokio::io::split(client_end);
    let client = Client::builder()
        .era(Era::SessionOnly)
        .connect(IoTransport::new(read, write))
        .await
        .unwrap();
    (client, log)
}

fn requests(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    log.lock().unwrap().clone()
}

#[tokio::test]
async fn listing_reads_nothing_and_loading_verifies() {
    let (client, log) = connect(Serving::Honest).await;
    assert!(client.offers_skills());
    let skills = client.list_all_skills().await.unwrap();
    assert_eq!(skills.len(), 2, "both pages");
    assert_eq!(skills[0].name(), "pdf-processing");
    assert_eq!(
        skills[0].description(),
        "Extract, fill, and assemble PDF documents"
    );
    assert_eq!(requests(&log), ["initialize", "skills/list", "skills/list"]);

    let loaded = client.load_skill(&skills[0]).await.unwrap();
    assert_eq!(loaded.skill_md, SKILL_MD);
    let forms = client.read_skill_file(&skills[0], FORMS_URI).await.unwrap();
    assert_eq!(forms, FORMS_MD.as_bytes());
    assert_eq!(
        requests(&log)[3..],
        [
            format!("resources/read {SKILL_URI}"),
            format!("resources/read {FORMS_URI}")
        ]
    );

    let got = client.get_skill(SKILL_URI).await.unwrap();
    assert_eq!(got, skills[0]);
    let unknown = client.get_skill("skill://nope/SKILL.md").await.unwrap_err();
    assert!(unknown.to_string().contains("no such skill"), "{unknown}");
    client.close().await;
}

#[tokio::test]
async fn tampered_skills_are_not_loaded() {
    for (serving, why) in [
        (Serving::TamperedBody, "its digest is sha256:"),
        (Serving::LongerBody, "bytes long, the entry says"),
        (
            Serving::OtherFrontmatter,
            "frontmatter differs from the listed one in description",
        ),
    ] {
        let (client, log) = connect(serving).await;
        let skills = client.list_all_skills().await.unwrap();
        let error = client.load_skill(&skills[0]).await.unwrap_err();
        assert!(
            matches!(&error, SkillError::Unverified { uri, .. } if uri == SKILL_URI),
            "{error:?}"
        );
        assert!(error.to_string().contains(why), "{error}");
        // Only SKILL.md was read.
        assert_eq!(
            requests(&log).last().unwrap(),
            &format!("resources/read {SKILL_URI}")
        );
        client.close().await;
    }
}

#[tokio::test]
async fn unlisted_files_and_unverifiable_skills_are_not_read() {
    let (client, log) = connect(Serving::Honest).await;
    let skills = client.list_all_skills().await.unwrap();
    let error = client
        .read_skill_file(&skills[0], "skill://pdf-processing/scripts/evil.sh")
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("does not list this file"),
        "{error}"
    );
    client.close().await;
    assert!(!requests(&log)
        .iter()
        .any(|r| r.starts_with("resources/read")));

    let (client, log) = connect(Serving::NoResources).await;
    let skills = client.list_all_skills().await.unwrap();
    let error = client.load_skill(&skills[0]).await.unwrap_err();
    assert!(error.to_string().contains("lists no files"), "{error}");
    assert!(!requests(&log)
        .iter()
        .any(|r| r.starts_with("resources/read")));
    client.close().await;
}

#[tokio::test]
async fn a_server_without_the_extension_is_not_asked() {
    let (client, log) = connect(Serving::NoExtension).await;
    assert!(!client.offers_skills());
    assert_eq!(
        client.list_all_skills().await.unwrap_err(),
        SkillError::NotOffered
    );
    assert_eq!(requests(&log), ["initialize"]);
    client.close().await;
}
