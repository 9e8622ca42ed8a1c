//! Skills over MCP (SEP-2640, the `io.modelcontextprotocol/skills`
//! extension) from the client's side: list a server's skills
//! ([`Client::list_skills`]), get one entry by URI
//! ([`Client::get_skill`]), load a skill ([`Client::load_skill`]: its
//! `SKILL.md`, verified) and read its other files
//! ([`Client::read_skill_file`], verified too).
//!
//! Nothing is fetched ahead of need: listing reads only the listing, and a
//! skill's files are read when it is loaded or a file is asked for. Every
//! file read is checked against the entry it was listed with: it must be
//! listed, have the listed size and SHA-256 digest, and a `SKILL.md` must
//! carry the entry's frontmatter field for field. Content that fails is
//! never returned.

use crate::{Client, ClientError, RequestOptions};
use base64::Engine;
use mcp_sdk::ResourceContents;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Number, Value};
use sha2::{Digest, Sha256};
use yaml_rust2::parser::{EventReceiver, Parser};
use yaml_rust2::{Event, Yaml, YamlLoader};

/// The skills extension's identifier.
pub const SKILLS_EXTENSION: &str = "io.modelcontextprotocol/skills";

/// The most pages [`Client::list_all_skills`] follows.
const MAX_SKILL_PAGES: usize = 1_000;

/// One skill as a server lists it (`skills/list`, `skills/get`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SkillEntry {
    /// The URI of the skill's `SKILL.md`.
    pub uri: String,
    /// The `SKILL.md` frontmatter, as JSON: at least `name` and
    /// `description`.
    pub frontmatter: Map<String, Value>,
    /// Every file of the skill with its digest; absent for a skill whose
    /// content is generated (such a skill cannot be verified, and
    /// [`Client::load_skill`] refuses it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<SkillFile>>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SkillEntry {
    /// The skill's name (`frontmatter.name`), or `""`.
    pub fn name(&self) -> &str {
        self.frontmatter
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The skill's description (`frontmatter.description`), or `""`.
    pub fn description(&self) -> &str {
        self.frontmatter
            .get("description")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }

    /// The listed file at `uri`.
    pub fn file(&self, uri: &str) -> Option<&SkillFile> {
        self.resources.as_ref()?.iter().find(|f| f.uri == uri)
    }
}

/// A file of a skill: its URI, SHA-256 digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillFile {
    /// The file's resource URI.
    pub uri: String,
    /// `sha256:` and 64 lowercase hex digits.
    pub digest: String,
    /// Its length in bytes, when the server gives it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// One page of `skills/list`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSkillsResult {
    /// The skills of this page.
    pub skills: Vec<SkillEntry>,
    /// The cursor of the next page, if there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A loaded skill: its entry and its verified `SKILL.md`.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedSkill {
    /// The entry the skill was loaded from (its files are read against it).
    pub entry: SkillEntry,
    /// The `SKILL.md` text, frontmatter included.
    pub skill_md: String,
}

/// Why a skill could not be listed, loaded or read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum SkillError {
    /// The call failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server did not declare the skills extension.
    #[error("the server does not offer skills (it did not declare {SKILLS_EXTENSION})")]
    NotOffered,
    /// The content is not what the skill's entry promised; it was not
    /// used.
    #[error("{uri} failed verification: {why}")]
    Unverified {
        /// The file read.
        uri: String,
        /// What did not match.
        why: String,
    },
}

impl Client {
    /// Whether the server declared the skills extension.
    pub fn offers_skills(&self) -> bool {
        self.server_capabilities()
            .extra
            .get("extensions")
            .and_then(|e| e.get(SKILLS_EXTENSION))
            .is_some()
    }

    /// `skills/list`: one page of the server's skills (it may list only
    /// some, or none).
    pub async fn list_skills(
        &self,
        cursor: Option<String>,
    ) -> Result<ListSkillsResult, SkillError> {
        self.require_skills()?;
        let params = match cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let answer = self
            .request_raw("skills/list", Some(params), RequestOptions::default())
            .await?;
        decode("skills/list", answer)
    }

    /// Every page of `skills/list`.
    pub async fn list_all_skills(&self) -> Result<Vec<SkillEntry>, SkillError> {
        let mut skills = Vec::new();
        let mut cursor = None;
        for _ in 0..MAX_SKILL_PAGES {
            let page = self.list_skills(cursor.take()).await?;
            skills.extend(page.skills);
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok(skills),
            }
        }
        Err(ClientError::Protocol(format!(
            "skills/list went on for more than {MAX_SKILL_PAGES} pages"
        ))
        .into())
    }

    /// `skills/get`: the entry of the skill whose `SKILL.md` is at `uri`,
    /// listed or not.
    pub async fn get_skill(&self, uri: &str) -> Result<SkillEntry, SkillError> {
        self.require_skills()?;
        let answer = self
            .request_raw(
                "skills/get",
                Some(json!({ "uri": uri })),
                RequestOptions::default(),
            )
            .await?;
        let skill = answer
            .get("skill")
            .cloned()
            .ok_or_else(|| ClientError::Protocol("the skills/get result has no skill".into()))?;
        decode("skills/get", skill)
    }

    /// Loads a skill: reads its `SKILL.md` now (not before), checks it
    /// against `entry` (listed, size, digest, frontmatter field by field)
    /// and returns it only if it passes.
    pub async fn load_skill(&self, entry: &SkillEntry) -> Result<LoadedSkill, SkillError> {
        let skill_md = self.read_skill_file(entry, &entry.uri).await?;
        let skill_md = String::from_utf8(skill_md).map_err(|_| SkillError::Unverified {
            uri: entry.uri.clone(),
            why: "SKILL.md is not UTF-8 text".into(),
        })?;
        let frontmatter = frontmatter(&skill_md).map_err(|why| SkillError::Unverified {
            uri: entry.uri.clone(),
            why,
        })?;
        if frontmatter != entry.frontmatter {
            let differing: Vec<&str> = frontmatter
                .keys()
                .chain(entry.frontmatter.keys())
                .filter(|k| frontmatter.get(*k) != entry.frontmatter.get(*k))
                .map(String::as_str)
                .collect();
            return Err(SkillError::Unverified {
                uri: entry.uri.clone(),
                why: format!(
                    "its frontmatter differs from the listed one in {}",
                    differing.join(", ")
                ),
            });
        }
        Ok(LoadedSkill {
            entry: entry.clone(),
            skill_md,
        })
    }

    /// Reads the file `uri` of the skill `entry` and returns its bytes if
    /// the entry lists it with this size and digest.
    pub async fn read_skill_file(
        &self,
        entry: &SkillEntry,
        uri: &str,
    ) -> Result<Vec<u8>, SkillError> {
        let unverified = |why: String| SkillError::Unverified {
            uri: uri.to_owned(),
            why,
        };
        let Some(resources) = &entry.resources else {
            return Err(unverified(
                "the skill lists no files with digests, so nothing of it can be verified".into(),
            ));
        };
        let Some(listed) = resources.iter().find(|f| f.uri == uri) else {
            return Err(unverified(
                "the skill's entry does not list this file".into(),
            ));
        };
        let read = self.read_resource(uri).await?;
        let bytes = match read.contents.as_slice() {
            [ResourceContents::Text(text)] => text.text.clone().into_bytes(),
            [ResourceContents::Blob(blob)] => base64::engine::general_purpose::STANDARD
                .decode(&blob.blob)
                .map_err(|e| unverified(format!("its blob is not base64: {e}")))?,
            other => {
                return Err(unverified(format!(
                    "the read gave {} contents, not one",
                    other.len()
                )))
            }
        };
        if let Some(size) = listed.size {
            if bytes.len() as u64 != size {
                return Err(unverified(format!(
                    "it is {} bytes long, the entry says {size}",
                    bytes.len()
                )));
            }
        }
        let digest = format!("sha256:{:x}", Sha256::digest(&bytes));
        if digest != listed.digest {
            return Err(unverified(format!(
                "its digest is {digest}, the entry says {}",
                listed.digest
            )));
        }
        Ok(bytes)
    }

    fn require_skills(&self) -> Result<(), SkillError> {
        if self.offers_skills() {
            Ok(())
        } else {
            Err(SkillError::NotOffered)
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(method: &str, value: Value) -> Result<T, SkillError> {
    serde_json::from_value(value)
        .map_err(|e| ClientError::Protocol(format!("the {method} result: {e}")).into())
}

/// The YAML frontmatter of a `SKILL.md`, as JSON.
fn frontmatter(skill_md: &str) -> Result<Map<String, Value>, String> {
    let text = skill_md.strip_prefix('\u{feff}').unwrap_or(skill_md);
    let mut lines = text.split_inclusive('\n');
    if lines.next().map(str::trim_end) != Some("---") {
        return Err("SKILL.md does not begin with YAML frontmatter (---)".into());
    }
    let mut yaml = String::new();
    let mut closed = false;
    for line in lines {
        if line.trim_end() == "---" {
            closed = true;
            break;
        }
        yaml.push_str(line);
    }
    if !closed {
        return Err("SKILL.md's frontmatter is not closed (---)".into());
    }
    // An alias copies what it names, so a few lines of nested aliases
    // make a billion values: refused before loading.
    let mut aliases = AliasCounter(0);
    Parser::new_from_str(&yaml)
        .load(&mut aliases, false)
        .map_err(|e| format!("its frontmatter is not YAML: {e}"))?;
    if aliases.0 > 0 {
        return Err("its frontmatter uses YAML aliases, which this client does not read".into());
    }
    let documents = YamlLoader::load_from_str(&yaml)
        .map_err(|e| format!("its frontmatter is not YAML: {e}"))?;
    match documents.into_iter().next().map(yaml_to_json) {
        Some(Ok(Value::Object(map))) => Ok(map),
        Some(Ok(_)) | None => Err("its frontmatter is not a mapping".into()),
        Some(Err(why)) => Err(why),
    }
}

/// Counts the aliases among a document's events.
struct AliasCounter(usize);

impl EventReceiver for AliasCounter {
    fn on_event(&mut self, event: Event) {
        if matches!(event, Event::Alias(_)) {
            self.0 += 1;
        }
    }
}

/// A YAML value as JSON (keys must be strings, as JSON's are).
fn yaml_to_json(yaml: Yaml) -> Result<Value, String> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Boolean(b) => Value::Bool(b),
        Yaml::Integer(i) => Value::from(i),
        Yaml::Real(text) => text
            .parse::<f64>()
            .ok()
            .and_then(Number::from_f64)
            .map_or(Value::String(text), Value::Number),
        Yaml::String(s) => Value::String(s),
        Yaml::Array(items) => Value::Array(
            items
                .into_iter()
                .map(yaml_to_json)
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Hash(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Integer(i) => i.to_string(),
                    Yaml::Boolean(b) => b.to_string(),
                    other => return Err(format!("a frontmatter key is not text: {other:?}")),
                };
                map.insert(key, yaml_to_json(value)?);
            }
            Value::Object(map)
        }
        Yaml::Alias(_) | Yaml::BadValue => {
            return Err("its frontmatter holds a value this client does not read".into())
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frontmatter_is_read_as_json() {
        let md = "---\nname: pdf-processing\ndescription: Extract, fill, and assemble PDF documents\nmetadata:\n  version: \"2.1.0\"\n  tags: [a, b]\nlicense: Apache-2.0\n---\n\nBody.\n";
        assert_eq!(
            Value::Object(frontmatter(md).unwrap()),
            json!({"name": "pdf-processing",
                   "description": "Extract, fill, and assemble PDF documents",
                   "metadata": {"version": "2.1.0", "tags": ["a", "b"]},
                   "license": "Apache-2.0"})
        );
    }

    #[test]
    fn bad_frontmatter_is_refused() {
        assert!(frontmatter("no frontmatter").is_err());
        assert!(frontmatter("---\nname: x\n")
            .unwrap_err()
            .contains("not closed"));
        assert!(frontmatter("---\n- a list\n---\n")
            .unwrap_err()
            .contains("not a mapping"));
        assert!(frontmatter("---\nname: [unclosed\n---\n")
            .unwrap_err()
            .contains("not YAML"));
        assert!(frontmatter("---\na: &x [1, 2]\nb: [*x, *x]\n---\n")
            .unwrap_err()
            .contains("aliases"));
    }
}
