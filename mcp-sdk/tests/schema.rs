//! Everything the `types` module serializes validates against the official
//! MCP JSON Schemas, in every revision whose schema defines the type and has
//! the features the value uses.
//!
//! Requests and notifications are validated as whole JSON-RPC envelopes
//! against the schema's `XxxRequest` / `XxxNotification` (and their params
//! against `XxxRequestParams` where the revision defines it), results against
//! `XxxResult`, data types against the definition of the same name. Messages
//! are checked against the session-era revisions only; data types against
//! 2026-07-28 too.

mod common;

use jsonschema::{Draft, Validator};
use mcp_sdk::jsonrpc::RequestId;
use mcp_sdk::*;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

const R2024_11: &str = "2024-11-05";
const R2025_03: &str = "2025-03-26";
const R2025_06: &str = "2025-06-18";
const R2025_11: &str = "2025-11-25";
const LAST_SESSION: &str = R2025_11;
const LAST: &str = "2026-07-28";

struct Revision {
    name: &'static str,
    doc: Value,
    defs_key: &'static str,
    draft: Draft,
    validators: HashMap<String, Validator>,
}

impl Revision {
    fn load(dir: &Path, name: &'static str) -> Revision {
        let path = dir.join(name).join("schema.json");
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let doc: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let defs_key = if doc.get("$defs").is_some() {
            "$defs"
        } else {
            "definitions"
        };
        // Set the draft from `$schema` ourselves, so nothing is ever fetched.
        let draft = match doc["$schema"].as_str().unwrap_or_default() {
            s if s.contains("draft-07") => Draft::Draft7,
            s if s.contains("2020-12") => Draft::Draft202012,
            other => panic!("{name}: unexpected $schema {other:?}"),
        };
        Revision {
            name,
            doc,
            defs_key,
            draft,
            validators: HashMap::new(),
        }
    }

    fn def(&self, name: &str) -> Option<&Value> {
        self.doc[self.defs_key].get(name)
    }

    /// The validator of one definition: the whole document with a root
    /// `$ref` to it.
    fn validator(&mut self, def: &str) -> &Validator {
        if !self.validators.contains_key(def) {
            let mut root = self.doc.clone();
            root.as_object_mut()
                .unwrap()
                .insert("$ref".into(), json!(format!("#/{}/{def}", self.defs_key)));
            let v = jsonschema::options()
                .with_draft(self.draft)
                .should_validate_formats(true)
                .offline()
                .build(&root)
                .unwrap_or_else(|e| panic!("{}: cannot compile {def}: {e}", self.name));
            self.validators.insert(def.to_owned(), v);
        }
        &self.validators[def]
    }
}

struct Checker {
    revisions: Vec<Revision>,
    failures: Vec<String>,
    /// Per revision: how many values were validated, and against which definitions.
    stats: BTreeMap<&'static str, (usize, BTreeSet<String>)>,
}

impl Checker {
    fn new(dir: &Path) -> Checker {
        Checker {
            revisions: common::REVISIONS
                .iter()
                .map(|r| Revision::load(dir, r))
                .collect(),
            failures: Vec::new(),
            stats: BTreeMap::new(),
        }
    }

    /// Validates `value` against `def` in every revision from `since` to
    /// `until` that defines it; returns in how many it was checked.
    fn check(&mut self, def: &str, value: &Value, since: &str, until: &str) -> usize {
        let mut checked = 0;
        for rev in &mut self.revisions {
            if rev.name < since || rev.name > until || rev.def(def).is_none() {
                continue;
            }
            let errors: Vec<String> = rev
                .validator(def)
                .iter_errors(value)
                .map(|e| format!("at {}: {e}", e.instance_path()))
                .collect();
            if !errors.is_empty() {
                let mut shown = value.to_string();
                if shown.len() > 400 {
                    shown.truncate(400);
                    shown.push_str("...");
                }
                self.failures.push(format!(
                    "[{}] {def}: {}\n    value: {shown}",
                    rev.name,
                    errors.join("; ")
                ));
            }
            let stat = self.stats.entry(rev.name).or_default();
            stat.0 += 1;
            stat.1.insert(def.to_owned());
            checked += 1;
        }
        checked
    }

    /// Whether `value` is valid against `def` in revision `rev` (which must
    /// define it).
    fn is_valid(&mut self, rev: &str, def: &str, value: &Value) -> bool {
        let r = self.revisions.iter_mut().find(|r| r.name == rev).unwrap();
        assert!(r.def(def).is_some(), "{rev} does not define {def}");
        r.validator(def).is_valid(value)
    }

    /// The `method` constant of a request or notification definition, in
    /// the newest revision that has it.
    fn method_of(&self, def: &str) -> Option<String> {
        self.revisions
            .iter()
            .rev()
            .find_map(|r| r.def(def))
            .and_then(|d| d["properties"]["method"]["const"].as_str())
            .map(str::to_owned)
    }

    fn require(&mut self, what: &str, checked: usize) {
        if checked == 0 {
            self.failures
                .push(format!("{what}: no revision defines it"));
        }
    }

    /// A data type, validated against each of `defs`.
    fn data<T: Serialize>(&mut self, defs: &[&str], value: &T, since: &str) {
        let value = serde_json::to_value(value).unwrap();
        let checked: usize = defs
            .iter()
            .map(|d| self.check(d, &value, since, LAST))
            .sum();
        self.require(&defs.join("/"), checked);
    }

    /// A data type that only exists in the session era (2026-07-28 changed it).
    fn session_data<T: Serialize>(&mut self, defs: &[&str], value: &T, since: &str) {
        let value = serde_json::to_value(value).unwrap();
        let checked: usize = defs
            .iter()
            .map(|d| self.check(d, &value, since, LAST_SESSION))
            .sum();
        self.require(&defs.join("/"), checked);
    }

    fn check_method(&mut self, def: &str, method: &str) {
        match self.method_of(def) {
            Some(m) if m == method => {}
            other => self
                .failures
                .push(format!("{def}: schema method {other:?}, ours {method:?}")),
        }
    }

    /// A request: the envelope against `def`, the params against
    /// `{def}Params` where defined.
    fn request<P: RequestParams>(&mut self, def: &str, params: &P, since: &str) {
        self.check_method(def, P::METHOD);
        let p = serde_json::to_value(params).unwrap();
        let envelope = json!({"jsonrpc": "2.0", "id": 1, "method": P::METHOD, "params": p});
        let checked = self.check(def, &envelope, since, LAST_SESSION);
        self.require(def, checked);
        let envelope = json!({"jsonrpc": "2.0", "id": "req-1", "method": P::METHOD, "params": p});
        self.check("JSONRPCRequest", &envelope, since, LAST_SESSION);
        self.check(&format!("{def}Params"), &p, since, LAST_SESSION);
    }

    /// A notification: the envelope against `def`, the params against
    /// `{def}Params` where defined.
    fn notification<P: NotificationParams>(&mut self, def: &str, params: &P, since: &str) {
        self.check_method(def, P::METHOD);
        let p = serde_json::to_value(params).unwrap();
        let envelope = json!({"jsonrpc": "2.0", "method": P::METHOD, "params": p});
        let checked = self.check(def, &envelope, since, LAST_SESSION);
        self.require(def, checked);
        self.check("JSONRPCNotification", &envelope, since, LAST_SESSION);
        self.check(&format!("{def}Params"), &p, since, LAST_SESSION);
    }

    /// A result: against `def`, and inside a response envelope.
    fn result<T: Serialize>(&mut self, def: &str, result: &T, since: &str) {
        let r = serde_json::to_value(result).unwrap();
        let checked = self.check(def, &r, since, LAST_SESSION);
        self.require(def, checked);
        let envelope = json!({"jsonrpc": "2.0", "id": 1, "result": r});
        self.check("JSONRPCResponse", &envelope, since, LAST_SESSION);
    }
}

fn obj(v: Value) -> JsonObject {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn meta_with_token(token: impl Into<ProgressToken>) -> Option<Meta> {
    let mut meta = Meta::new();
    meta.insert("progressToken".into(), token.into().into());
    meta.insert("com.example/trace".into(), json!("t-1"));
    Some(meta)
}

fn some_meta() -> Option<Meta> {
    Some(obj(json!({"com.example/origin": "test"})))
}

// ---------------------------------------------------------------- fixtures

fn icon() -> Icon {
    Icon {
        mime_type: Some("image/png".into()),
        sizes: Some(vec!["48x48".into(), "96x96".into()]),
        theme: Some(IconTheme::Dark),
        ..Icon::new("https://example.com/icon.png")
    }
}

fn annotations_2025_03() -> Annotations {
    Annotations {
        audience: Some(vec![Role::User, Role::Assistant]),
        priority: Some(0.25),
        ..Default::default()
    }
}

fn annotations_full() -> Annotations {
    Annotations {
        audience: Some(vec![Role::User]),
        priority: Some(1.0),
        last_modified: Some("2025-01-12T15:00:58Z".into()),
        ..Default::default()
    }
}

fn resource_min() -> Resource {
    Resource::new("file:///project/README.md", "README.md")
}

fn resource_full() -> Resource {
    Resource {
        title: Some("Project documentation".into()),
        description: Some("What the project is".into()),
        mime_type: Some("text/markdown".into()),
        annotations: Some(annotations_full()),
        size: Some(1024),
        icons: Some(vec![icon()]),
        meta: some_meta(),
        ..resource_min()
    }
}

fn text_full() -> ContentBlock {
    ContentBlock::Text(TextContent {
        annotations: Some(annotations_full()),
        meta: some_meta(),
        ..TextContent::new("hello")
    })
}

fn image_full() -> ContentBlock {
    ContentBlock::Image(ImageContent {
        annotations: Some(annotations_full()),
        meta: some_meta(),
        ..ImageContent {
            data: "iVBORw0KGgo=".into(),
            mime_type: "image/png".into(),
            ..Default::default()
        }
    })
}

/// Every content block kind that 2024-11-05 knows.
fn blocks_2024() -> Vec<ContentBlock> {
    vec![
        ContentBlock::text("hello"),
        ContentBlock::image("iVBORw0KGgo=", "image/png"),
        ContentBlock::embedded_text("file:///a.txt", "text/plain", "A"),
        ContentBlock::embedded_blob("file:///a.bin", "application/octet-stream", "AAEC"),
        ContentBlock::embedded(ResourceContents::text("file:///b.txt", None, "B")),
    ]
}

/// Every content block kind, every field set.
fn blocks_all() -> Vec<ContentBlock> {
    let mut blocks = blocks_2024();
    blocks.extend([
        text_full(),
        image_full(),
        ContentBlock::audio("UklGRg==", "audio/wav"),
        ContentBlock::Audio(AudioContent {
            annotations: Some(annotations_full()),
            meta: some_meta(),
            ..AudioContent {
                data: "UklGRg==".into(),
                mime_type: "audio/wav".into(),
                ..Default::default()
            }
        }),
        ContentBlock::resource_link(resource_min()),
        ContentBlock::resource_link(resource_full()),
        ContentBlock::Resource(EmbeddedResource {
            annotations: Some(annotations_full()),
            meta: some_meta(),
            ..EmbeddedResource::new(ResourceContents::Blob(BlobResourceContents {
                meta: some_meta(),
                ..BlobResourceContents {
                    uri: "file:///c.bin".into(),
                    mime_type: Some("application/octet-stream".into()),
                    blob: "AAEC".into(),
                    ..Default::default()
                }
            }))
        }),
    ]);
    blocks
}

fn tool_min() -> Tool {
    Tool::new("echo", "Echoes its input", obj(json!({"type": "object"})))
}

fn tool_2025_03() -> Tool {
    Tool::new(
        "add",
        "Adds two numbers",
        obj(json!({
            "type": "object",
            "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
            "required": ["a", "b"]
        })),
    )
    .with_annotations(ToolAnnotations {
        title: Some("Add".into()),
        read_only_hint: Some(true),
        destructive_hint: Some(false),
        idempotent_hint: Some(true),
        open_world_hint: Some(false),
        ..Default::default()
    })
}

fn tool_2025_06() -> Tool {
    tool_2025_03()
        .with_title("Adder")
        .with_output_schema(obj(json!({
            "type": "object",
            "properties": {"sum": {"type": "number"}},
            "required": ["sum"]
        })))
}

fn tool_full() -> Tool {
    Tool {
        execution: Some(ToolExecution {
            task_support: Some(TaskSupport::Optional),
            ..Default::default()
        }),
        icons: Some(vec![icon()]),
        meta: some_meta(),
        ..tool_2025_06()
    }
}

fn task(status: TaskStatus, ttl: Option<u64>) -> Task {
    Task {
        ttl,
        poll_interval: Some(500),
        status_message: Some("going".into()),
        last_updated_at: "2025-11-25T10:00:05Z".into(),
        ..Task::new("task-1", status, "2025-11-25T10:00:00Z")
    }
}

fn implementation_full() -> Implementation {
    Implementation {
        description: Some("An example".into()),
        icons: Some(vec![icon()]),
        website_url: Some("https://example.com".into()),
        ..Implementation::new("example", "1.2.3").with_title("Example")
    }
}

fn client_caps_2024() -> ClientCapabilities {
    ClientCapabilities {
        experimental: Some(BTreeMap::from([(
            "com.example/x".to_owned(),
            obj(json!({"on": true})),
        )])),
        roots: Some(RootsCapability {
            list_changed: Some(true),
            ..Default::default()
        }),
        sampling: Some(SamplingCapability::default()),
        ..Default::default()
    }
}

fn client_caps_full() -> ClientCapabilities {
    ClientCapabilities {
        sampling: Some(SamplingCapability {
            context: Some(JsonObject::new()),
            tools: Some(JsonObject::new()),
            ..Default::default()
        }),
        elicitation: Some(ElicitationCapability {
            form: Some(JsonObject::new()),
            url: Some(JsonObject::new()),
            ..Default::default()
        }),
        tasks: Some(ClientTasksCapability {
            list: Some(JsonObject::new()),
            cancel: Some(JsonObject::new()),
            requests: Some(ClientTaskRequests {
                sampling: Some(SamplingTaskRequests {
                    create_message: Some(JsonObject::new()),
                    ..Default::default()
                }),
                elicitation: Some(ElicitationTaskRequests {
                    create: Some(JsonObject::new()),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..client_caps_2024()
    }
}

fn server_caps_2024() -> ServerCapabilities {
    ServerCapabilities {
        experimental: Some(BTreeMap::from([(
            "com.example/x".to_owned(),
            JsonObject::new(),
        )])),
        logging: Some(JsonObject::new()),
        prompts: Some(PromptsCapability {
            list_changed: Some(true),
            ..Default::default()
        }),
        resources: Some(ResourcesCapability {
            subscribe: Some(true),
            list_changed: Some(false),
            ..Default::default()
        }),
        tools: Some(ToolsCapability {
            list_changed: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn server_caps_full() -> ServerCapabilities {
    ServerCapabilities {
        completions: Some(JsonObject::new()),
        tasks: Some(ServerTasksCapability::tool_calls()),
        ..server_caps_2024()
    }
}

fn form_schema_2025_06() -> ElicitationSchema {
    ElicitationSchema::default()
        .with_property(
            "name",
            StringSchema {
                title: Some("Name".into()),
                description: Some("Your name".into()),
                min_length: Some(1),
                max_length: Some(50),
                ..Default::default()
            },
            true,
        )
        .with_property(
            "email",
            StringSchema {
                format: Some("email".into()),
                ..Default::default()
            },
            false,
        )
        .with_property(
            "age",
            NumberSchema {
                type_: NumberType::Integer,
                minimum: Some(18.0),
                maximum: Some(130.0),
                ..Default::default()
            },
            false,
        )
        .with_property(
            "ratio",
            NumberSchema {
                minimum: Some(0.5),
                ..Default::default()
            },
            false,
        )
        .with_property(
            "subscribe",
            BooleanSchema {
                title: Some("Subscribe".into()),
                default: Some(false),
                ..Default::default()
            },
            false,
        )
        .with_property(
            "size",
            LegacyTitledEnumSchema {
                values: vec!["s".into(), "m".into()],
                enum_names: Some(vec!["Small".into(), "Medium".into()]),
                ..Default::default()
            },
            false,
        )
        .with_property(
            "plain",
            UntitledSingleSelectEnumSchema {
                values: vec!["a".into(), "b".into()],
                ..Default::default()
            },
            false,
        )
}

fn form_schema_full() -> ElicitationSchema {
    let mut schema = form_schema_2025_06()
        .with_property(
            "color",
            TitledSingleSelectEnumSchema {
                title: Some("Color".into()),
                one_of: vec![
                    EnumOption::new("#f00", "Red"),
                    EnumOption::new("#0f0", "Green"),
                ],
                default: Some("#f00".into()),
                ..Default::default()
            },
            false,
        )
        .with_property(
            "tags",
            UntitledMultiSelectEnumSchema {
                min_items: Some(1),
                max_items: Some(2),
                items: UntitledEnumItems {
                    values: vec!["x".into(), "y".into()],
                    ..Default::default()
                },
                default: Some(vec!["x".into()]),
                ..Default::default()
            },
            false,
        )
        .with_property(
            "colors",
            TitledMultiSelectEnumSchema {
                items: TitledEnumItems {
                    any_of: vec![
                        EnumOption::new("#f00", "Red"),
                        EnumOption::new("#00f", "Blue"),
                    ],
                    ..Default::default()
                },
                ..Default::default()
            },
            false,
        )
        .with_property(
            "nickname",
            StringSchema {
                default: Some("bob".into()),
                ..Default::default()
            },
            false,
        );
    schema.schema = Some("https://json-schema.org/draft/2020-12/schema".into());
    schema
}

// ---------------------------------------------------------------- cases

fn lifecycle(c: &mut Checker) {
    let minimal = InitializeParams::new(
        "2024-11-05",
        ClientCapabilities::default(),
        Implementation::new("c", "1"),
    );
    c.request("InitializeRequest", &minimal, R2024_11);
    let caps = InitializeParams::new(
        "2024-11-05",
        client_caps_2024(),
        Implementation::new("c", "1"),
    );
    c.request("InitializeRequest", &caps, R2024_11);
    let elicit = InitializeParams {
        capabilities: ClientCapabilities {
            elicitation: Some(ElicitationCapability::default()),
            ..client_caps_2024()
        },
        client_info: Implementation::new("c", "1").with_title("Client"),
        ..InitializeParams::new(
            "2025-06-18",
            ClientCapabilities::default(),
            Implementation::new("c", "1"),
        )
    };
    c.request("InitializeRequest", &elicit, R2025_06);
    let full = InitializeParams {
        meta: meta_with_token("init"),
        ..InitializeParams::new("2025-11-25", client_caps_full(), implementation_full())
    };
    c.request("InitializeRequest", &full, R2025_11);

    let result = InitializeResult {
        protocol_version: "2024-11-05".into(),
        capabilities: ServerCapabilities::default(),
        server_info: Implementation::new("s", "0.1.0"),
        ..Default::default()
    };
    c.result("InitializeResult", &result, R2024_11);
    let result = InitializeResult {
        capabilities: server_caps_2024(),
        instructions: Some("Use the tools.".into()),
        ..result
    };
    c.result("InitializeResult", &result, R2024_11);
    let result = InitializeResult {
        capabilities: ServerCapabilities {
            completions: Some(JsonObject::new()),
            ..server_caps_2024()
        },
        ..result
    };
    c.result("InitializeResult", &result, R2025_03);
    let result = InitializeResult {
        protocol_version: "2025-11-25".into(),
        capabilities: server_caps_full(),
        server_info: implementation_full(),
        meta: some_meta(),
        ..result
    };
    c.result("InitializeResult", &result, R2025_11);

    c.data(
        &["Implementation"],
        &Implementation::new("x", "1"),
        R2024_11,
    );
    c.data(&["Implementation"], &implementation_full(), R2025_11);
    c.data(
        &["ClientCapabilities"],
        &ClientCapabilities::default(),
        R2024_11,
    );
    c.data(&["ClientCapabilities"], &client_caps_2024(), R2024_11);
    c.session_data(&["ClientCapabilities"], &client_caps_full(), R2025_11);
    c.data(&["ServerCapabilities"], &server_caps_2024(), R2024_11);
    c.session_data(&["ServerCapabilities"], &server_caps_full(), R2025_11);
    c.data(&["Icon"], &icon(), R2025_11);
    c.data(
        &["Icon"],
        &Icon::new("data:image/png;base64,iVBORw0KGgo="),
        R2025_11,
    );

    c.notification(
        "InitializedNotification",
        &InitializedNotificationParams::default(),
        R2024_11,
    );
    let with_meta = InitializedNotificationParams {
        meta: some_meta(),
        ..Default::default()
    };
    c.notification("InitializedNotification", &with_meta, R2024_11);
    c.request("PingRequest", &PingParams::default(), R2024_11);
    let ping = PingParams {
        meta: meta_with_token(3),
        ..Default::default()
    };
    c.request("PingRequest", &ping, R2024_11);
    c.result("EmptyResult", &EmptyResult::default(), R2024_11);
    c.result(
        "Result",
        &EmptyResult {
            meta: some_meta(),
            ..Default::default()
        },
        R2024_11,
    );
}

fn content(c: &mut Checker) {
    let def_of = |b: &ContentBlock| match b {
        ContentBlock::Text(_) => "TextContent",
        ContentBlock::Image(_) => "ImageContent",
        ContentBlock::Audio(_) => "AudioContent",
        ContentBlock::ResourceLink(_) => "ResourceLink",
        ContentBlock::Resource(_) => "EmbeddedResource",
    };
    for b in blocks_2024() {
        c.data(&[def_of(&b), "ContentBlock"], &b, R2024_11);
    }
    for b in blocks_all() {
        let since = match &b {
            ContentBlock::Audio(_) => R2025_03,
            ContentBlock::ResourceLink(r) if r.icons.is_some() => R2025_11,
            _ => R2025_06,
        };
        c.data(&[def_of(&b), "ContentBlock"], &b, since);
    }
    // 2024-11-05 already had annotations (as `Annotated`).
    let annotated = ContentBlock::Text(TextContent {
        annotations: Some(annotations_2025_03()),
        ..TextContent::new("x")
    });
    c.data(&["TextContent"], &annotated, R2024_11);
    c.data(&["Annotations"], &annotations_2025_03(), R2025_03);
    c.data(&["Annotations"], &annotations_full(), R2025_06);
    c.data(&["Annotations"], &Annotations::default(), R2025_03);

    let text = ResourceContents::text("file:///a.txt", Some("text/plain".into()), "A");
    let blob = ResourceContents::blob("file:///a.png", None, "iVBORw0KGgo=");
    c.data(
        &["TextResourceContents", "ResourceContents"],
        &text,
        R2024_11,
    );
    c.data(
        &["BlobResourceContents", "ResourceContents"],
        &blob,
        R2024_11,
    );
    let with_meta = ResourceContents::Text(TextResourceContents {
        meta: some_meta(),
        ..TextResourceContents {
            uri: "https://example.com/x".into(),
            text: String::new(),
            ..Default::default()
        }
    });
    c.data(&["TextResourceContents"], &with_meta, R2025_06);
    c.data(&["Role"], &Role::User, R2024_11);
    c.data(&["Role"], &Role::Assistant, R2024_11);
}

fn tools(c: &mut Checker) {
    c.data(&["Tool"], &tool_min(), R2024_11);
    c.data(&["Tool"], &tool_2025_03(), R2025_03);
    c.data(&["Tool"], &tool_2025_06(), R2025_06);
    c.data(&["Tool"], &tool_full(), R2025_11);
    c.data(
        &["ToolAnnotations"],
        &tool_2025_03().annotations.unwrap(),
        R2025_03,
    );
    c.data(&["ToolAnnotations"], &ToolAnnotations::default(), R2025_03);
    for support in [
        TaskSupport::Forbidden,
        TaskSupport::Optional,
        TaskSupport::Required,
    ] {
        let execution = ToolExecution {
            task_support: Some(support),
            ..Default::default()
        };
        c.session_data(&["ToolExecution"], &execution, R2025_11);
    }

    c.request("ListToolsRequest", &ListToolsParams::default(), R2024_11);
    c.request("ListToolsRequest", &ListToolsParams::at("page-2"), R2024_11);
    let list = ListToolsParams {
        meta: meta_with_token("list"),
        ..ListToolsParams::at("page-3")
    };
    c.request("ListToolsRequest", &list, R2025_06);
    let result = ListToolsResult {
        tools: vec![tool_min()],
        next_cursor: Some("page-2".into()),
        ..Default::default()
    };
    c.result("ListToolsResult", &result, R2024_11);
    c.result("ListToolsResult", &ListToolsResult::default(), R2024_11);
    let result = ListToolsResult {
        tools: vec![tool_min(), tool_2025_03(), tool_2025_06(), tool_full()],
        meta: some_meta(),
        ..Default::default()
    };
    c.result("ListToolsResult", &result, R2025_11);

    c.request(
        "CallToolRequest",
        &CallToolParams::new("echo", None),
        R2024_11,
    );
    let call = CallToolParams::new(
        "add",
        Some(obj(
            json!({"a": 1, "b": 2.5, "nested": {"deep": [1, "x", null]}}),
        )),
    );
    c.request("CallToolRequest", &call, R2024_11);
    let call = CallToolParams {
        meta: meta_with_token(42),
        ..call
    };
    c.request("CallToolRequest", &call, R2024_11);
    let call = CallToolParams {
        task: Some(TaskMetadata {
            ttl: Some(60_000),
            ..Default::default()
        }),
        ..call
    };
    c.request("CallToolRequest", &call, R2025_11);

    c.result("CallToolResult", &CallToolResult::text("ok"), R2024_11);
    c.result(
        "CallToolResult",
        &CallToolResult::error_text("bad input"),
        R2024_11,
    );
    c.result("CallToolResult", &CallToolResult::new(vec![]), R2024_11);
    c.result(
        "CallToolResult",
        &CallToolResult::new(blocks_2024()),
        R2024_11,
    );
    c.result(
        "CallToolResult",
        &CallToolResult::new(vec![ContentBlock::audio("UklGRg==", "audio/wav")]),
        R2025_03,
    );
    c.result(
        "CallToolResult",
        &CallToolResult::structured(json!({"sum": 3.5, "ok": true})),
        R2025_06,
    );
    let full = CallToolResult {
        is_error: Some(false),
        meta: some_meta(),
        ..CallToolResult::new(blocks_all())
    };
    c.result("CallToolResult", &full, R2025_11);

    c.notification(
        "ToolListChangedNotification",
        &ToolListChangedNotificationParams::default(),
        R2024_11,
    );
}

fn resources(c: &mut Checker) {
    c.data(&["Resource"], &resource_min(), R2024_11);
    let described = resource_min()
        .with_description("d")
        .with_mime_type("text/markdown");
    c.data(&["Resource"], &described, R2024_11);
    c.data(&["Resource"], &resource_full(), R2025_11);
    let template = ResourceTemplate::new("file:///{path}", "files");
    c.data(&["ResourceTemplate"], &template, R2024_11);
    let template_full = ResourceTemplate {
        title: Some("Files".into()),
        description: Some("Project files".into()),
        mime_type: Some("application/octet-stream".into()),
        annotations: Some(annotations_full()),
        icons: Some(vec![icon()]),
        meta: some_meta(),
        ..template.clone()
    };
    c.data(&["ResourceTemplate"], &template_full, R2025_11);

    c.request(
        "ListResourcesRequest",
        &ListResourcesParams::default(),
        R2024_11,
    );
    c.request(
        "ListResourcesRequest",
        &ListResourcesParams::at("c1"),
        R2024_11,
    );
    let result = ListResourcesResult {
        resources: vec![resource_min(), described],
        next_cursor: Some("c2".into()),
        ..Default::default()
    };
    c.result("ListResourcesResult", &result, R2024_11);
    let result = ListResourcesResult {
        resources: vec![resource_full()],
        meta: some_meta(),
        ..Default::default()
    };
    c.result("ListResourcesResult", &result, R2025_11);

    c.request(
        "ListResourceTemplatesRequest",
        &ListResourceTemplatesParams::default(),
        R2024_11,
    );
    let result = ListResourceTemplatesResult {
        resource_templates: vec![template],
        next_cursor: Some("c2".into()),
        ..Default::default()
    };
    c.result("ListResourceTemplatesResult", &result, R2024_11);
    let result = ListResourceTemplatesResult {
        resource_templates: vec![template_full],
        ..Default::default()
    };
    c.result("ListResourceTemplatesResult", &result, R2025_11);

    c.request(
        "ReadResourceRequest",
        &ReadResourceParams::new("file:///a.txt"),
        R2024_11,
    );
    let read = ReadResourceParams {
        meta: meta_with_token("r"),
        ..ReadResourceParams::new("https://example.com/data?id=1")
    };
    c.request("ReadResourceRequest", &read, R2024_11);
    c.result(
        "ReadResourceResult",
        &ReadResourceResult::text("file:///a.txt", "text/plain", "A"),
        R2024_11,
    );
    c.result(
        "ReadResourceResult",
        &ReadResourceResult::blob("file:///a.png", "image/png", "iVBORw0KGgo="),
        R2024_11,
    );
    let several = ReadResourceResult {
        meta: some_meta(),
        ..ReadResourceResult::new(vec![
            ResourceContents::text("file:///dir/a", None, "A"),
            ResourceContents::blob("file:///dir/b", None, "AA=="),
        ])
    };
    c.result("ReadResourceResult", &several, R2024_11);

    let subscribe = SubscribeParams {
        uri: "file:///a.txt".into(),
        ..Default::default()
    };
    c.request("SubscribeRequest", &subscribe, R2024_11);
    let unsubscribe = UnsubscribeParams {
        uri: "file:///a.txt".into(),
        meta: some_meta(),
        ..Default::default()
    };
    c.request("UnsubscribeRequest", &unsubscribe, R2024_11);
    c.notification(
        "ResourceUpdatedNotification",
        &ResourceUpdatedNotificationParams::new("file:///a.txt"),
        R2024_11,
    );
    c.notification(
        "ResourceListChangedNotification",
        &ResourceListChangedNotificationParams::default(),
        R2024_11,
    );
}

fn prompts(c: &mut Checker) {
    let prompt = Prompt::new("review", "Reviews code")
        .with_argument(PromptArgument::new("code", "The code", true));
    c.data(&["Prompt"], &Prompt::new("p", "d"), R2024_11);
    c.data(&["Prompt"], &prompt, R2024_11);
    let full = Prompt {
        title: Some("Review".into()),
        icons: Some(vec![icon()]),
        meta: some_meta(),
        arguments: Some(vec![PromptArgument {
            title: Some("Code".into()),
            ..PromptArgument::new("code", "The code", false)
        }]),
        ..prompt.clone()
    };
    c.data(&["Prompt"], &full, R2025_11);
    c.data(
        &["PromptArgument"],
        &PromptArgument::new("a", "b", true),
        R2024_11,
    );
    let arg = PromptArgument {
        name: "x".into(),
        ..Default::default()
    };
    c.data(&["PromptArgument"], &arg, R2024_11);

    for b in blocks_2024() {
        c.data(
            &["PromptMessage"],
            &PromptMessage::new(Role::User, b),
            R2024_11,
        );
    }
    for b in blocks_all() {
        c.data(
            &["PromptMessage"],
            &PromptMessage::new(Role::Assistant, b),
            R2025_11,
        );
    }

    c.request(
        "ListPromptsRequest",
        &ListPromptsParams::default(),
        R2024_11,
    );
    let result = ListPromptsResult {
        prompts: vec![prompt],
        next_cursor: Some("n".into()),
        ..Default::default()
    };
    c.result("ListPromptsResult", &result, R2024_11);
    let result = ListPromptsResult {
        prompts: vec![full],
        meta: some_meta(),
        ..Default::default()
    };
    c.result("ListPromptsResult", &result, R2025_11);

    c.request(
        "GetPromptRequest",
        &GetPromptParams::new("review"),
        R2024_11,
    );
    let get = GetPromptParams {
        meta: meta_with_token(1),
        ..GetPromptParams::new("review")
            .with_argument("code", "fn main() {}")
            .with_argument("lang", "rust")
    };
    c.request("GetPromptRequest", &get, R2024_11);
    let result = GetPromptResult::new(vec![
        PromptMessage::user_text("Review this"),
        PromptMessage::assistant_text("OK"),
    ])
    .with_description("A review");
    c.result("GetPromptResult", &result, R2024_11);
    let result = GetPromptResult {
        meta: some_meta(),
        ..GetPromptResult::new(
            blocks_all()
                .into_iter()
                .map(|b| PromptMessage::new(Role::User, b))
                .collect(),
        )
    };
    c.result("GetPromptResult", &result, R2025_11);
    c.notification(
        "PromptListChangedNotification",
        &PromptListChangedNotificationParams::default(),
        R2024_11,
    );
}

fn completion(c: &mut Checker) {
    let prompt = CompleteParams::new(CompletionReference::prompt("review"), "lang", "ru");
    c.request("CompleteRequest", &prompt, R2024_11);
    let resource = CompleteParams::new(
        CompletionReference::resource("file:///{path}"),
        "path",
        "src/",
    );
    c.request("CompleteRequest", &resource, R2024_11);
    let context = CompleteParams {
        context: Some(CompletionContext {
            arguments: Some(BTreeMap::from([("lang".to_owned(), "rust".to_owned())])),
            ..Default::default()
        }),
        meta: meta_with_token("c"),
        reference: CompletionReference::Prompt(PromptReference {
            title: Some("Review".into()),
            ..PromptReference {
                name: "review".into(),
                ..Default::default()
            }
        }),
        ..prompt
    };
    c.request("CompleteRequest", &context, R2025_06);

    let prompt_ref = serde_json::to_value(CompletionReference::prompt("review")).unwrap();
    c.data(&["PromptReference"], &prompt_ref, R2024_11);
    let resource_ref =
        serde_json::to_value(CompletionReference::resource("file:///{path}")).unwrap();
    c.data(
        &["ResourceTemplateReference", "ResourceReference"],
        &resource_ref,
        R2024_11,
    );

    c.result(
        "CompleteResult",
        &CompleteResult::new(vec!["rust".into(), "ruby".into()]),
        R2024_11,
    );
    c.result(
        "CompleteResult",
        &CompleteResult::new((0..150).map(|i| i.to_string()).collect()),
        R2024_11,
    );
    let bare = CompleteResult {
        completion: Completion {
            values: vec![],
            ..Default::default()
        },
        meta: some_meta(),
        ..Default::default()
    };
    c.result("CompleteResult", &bare, R2024_11);
}

fn logging(c: &mut Checker) {
    for level in LoggingLevel::ALL {
        c.data(&["LoggingLevel"], &level, R2024_11);
        let set = SetLevelParams {
            level,
            ..Default::default()
        };
        c.request("SetLevelRequest", &set, R2024_11);
        let msg = LoggingMessageNotificationParams::new(level, "text");
        c.notification("LoggingMessageNotification", &msg, R2024_11);
    }
    let structured = LoggingMessageNotificationParams::new(
        LoggingLevel::Error,
        json!({"error": "Connection failed", "details": {"port": 5432}}),
    )
    .with_logger("db");
    c.notification("LoggingMessageNotification", &structured, R2024_11);
    let with_meta = LoggingMessageNotificationParams {
        meta: some_meta(),
        ..LoggingMessageNotificationParams::new(LoggingLevel::Debug, json!(null))
    };
    c.notification("LoggingMessageNotification", &with_meta, R2024_11);
}

fn sampling(c: &mut Checker) {
    let minimal = CreateMessageParams::new(vec![SamplingMessage::user_text("Hi")], 100);
    c.request("CreateMessageRequest", &minimal, R2024_11);
    let image = SamplingMessage::new(
        Role::User,
        SamplingContentBlock::Image(ImageContent {
            data: "iVBORw0KGgo=".into(),
            mime_type: "image/png".into(),
            ..Default::default()
        }),
    );
    let prefs = ModelPreferences {
        hints: Some(vec![
            ModelHint {
                name: Some("claude-3-sonnet".into()),
                ..Default::default()
            },
            ModelHint::default(),
        ]),
        cost_priority: Some(0.3),
        speed_priority: Some(1.0),
        intelligence_priority: Some(0.0),
        ..Default::default()
    };
    let full_2024 = CreateMessageParams {
        model_preferences: Some(prefs.clone()),
        system_prompt: Some("Be brief.".into()),
        include_context: Some(IncludeContext::ThisServer),
        temperature: Some(0.7),
        stop_sequences: Some(vec!["\n\n".into()]),
        metadata: Some(obj(json!({"provider": {"x": 1}}))),
        meta: meta_with_token("s"),
        ..CreateMessageParams::new(
            vec![
                SamplingMessage::user_text("Hi"),
                SamplingMessage::assistant_text("Hello"),
                image,
            ],
            256,
        )
    };
    c.request("CreateMessageRequest", &full_2024, R2024_11);
    for ctx in [IncludeContext::None, IncludeContext::AllServers] {
        let p = CreateMessageParams {
            include_context: Some(ctx),
            ..minimal.clone()
        };
        c.request("CreateMessageRequest", &p, R2024_11);
    }
    let audio = SamplingMessage::new(
        Role::User,
        SamplingContentBlock::Audio(AudioContent {
            data: "UklGRg==".into(),
            mime_type: "audio/wav".into(),
            ..Default::default()
        }),
    );
    c.request(
        "CreateMessageRequest",
        &CreateMessageParams::new(vec![audio.clone()], 10),
        R2025_03,
    );

    let tool_use = SamplingContentBlock::ToolUse(ToolUseContent {
        id: "call_1".into(),
        name: "get_weather".into(),
        input: obj(json!({"city": "Paris"})),
        meta: some_meta(),
        ..Default::default()
    });
    let tool_result = SamplingContentBlock::ToolResult(ToolResultContent {
        tool_use_id: "call_1".into(),
        content: blocks_all(),
        structured_content: Some(json!({"temp": 18})),
        is_error: Some(false),
        meta: some_meta(),
        ..Default::default()
    });
    let tools = CreateMessageParams {
        tools: Some(vec![tool_min(), tool_full()]),
        tool_choice: Some(ToolChoice {
            mode: Some(ToolChoiceMode::Auto),
            ..Default::default()
        }),
        task: Some(TaskMetadata::default()),
        ..CreateMessageParams::new(
            vec![
                SamplingMessage::user_text("Weather?"),
                SamplingMessage::new(Role::Assistant, vec![tool_use.clone(), tool_use.clone()]),
                SamplingMessage {
                    meta: some_meta(),
                    ..SamplingMessage::new(Role::User, vec![tool_result.clone()])
                },
                SamplingMessage::new(Role::User, tool_result.clone()),
            ],
            1000,
        )
    };
    c.request("CreateMessageRequest", &tools, R2025_11);
    for mode in [ToolChoiceMode::None, ToolChoiceMode::Required] {
        let choice = ToolChoice {
            mode: Some(mode),
            ..Default::default()
        };
        c.session_data(&["ToolChoice"], &choice, R2025_11);
    }

    c.data(&["ModelPreferences"], &prefs, R2024_11);
    c.data(
        &["ModelPreferences"],
        &ModelPreferences::default(),
        R2024_11,
    );
    c.data(&["ModelHint"], &ModelHint::default(), R2024_11);
    c.data(
        &["SamplingMessage"],
        &SamplingMessage::user_text("x"),
        R2024_11,
    );
    c.data(&["SamplingMessage"], &audio, R2025_03);
    c.data(
        &["ToolUseContent", "SamplingMessageContentBlock"],
        &tool_use,
        R2025_11,
    );
    c.data(
        &["ToolResultContent", "SamplingMessageContentBlock"],
        &tool_result,
        R2025_11,
    );
    c.data(
        &["TextContent", "SamplingMessageContentBlock"],
        &SamplingContentBlock::text("t"),
        R2024_11,
    );

    c.result(
        "CreateMessageResult",
        &CreateMessageResult::text("claude", "Paris."),
        R2024_11,
    );
    let stopped = CreateMessageResult {
        stop_reason: Some(CreateMessageResult::MAX_TOKENS.into()),
        meta: some_meta(),
        ..CreateMessageResult::text("claude", "Par")
    };
    c.result("CreateMessageResult", &stopped, R2024_11);
    let audio_result = CreateMessageResult {
        content: audio.content.clone(),
        stop_reason: None,
        ..CreateMessageResult::text("m", "")
    };
    c.result("CreateMessageResult", &audio_result, R2025_03);
    let tool_use_result = CreateMessageResult {
        content: vec![tool_use.clone(), tool_use].into(),
        stop_reason: Some(CreateMessageResult::TOOL_USE.into()),
        ..CreateMessageResult::text("m", "")
    };
    c.result("CreateMessageResult", &tool_use_result, R2025_11);
}

fn roots(c: &mut Checker) {
    c.request("ListRootsRequest", &ListRootsParams::default(), R2024_11);
    let result = ListRootsResult {
        roots: vec![
            Root::new("file:///home/user/project").with_name("Project"),
            Root::new("file:///tmp"),
        ],
        ..Default::default()
    };
    c.result("ListRootsResult", &result, R2024_11);
    let with_meta = ListRootsResult {
        roots: vec![Root {
            meta: some_meta(),
            ..Root::new("file:///x")
        }],
        meta: some_meta(),
        ..Default::default()
    };
    c.result("ListRootsResult", &with_meta, R2025_06);
    c.data(&["Root"], &Root::new("file:///a").with_name("A"), R2024_11);
    c.notification(
        "RootsListChangedNotification",
        &RootsListChangedNotificationParams::default(),
        R2024_11,
    );
}

fn elicitation(c: &mut Checker) {
    let form = ElicitRequestParams::form("Who are you?", form_schema_2025_06());
    c.request("ElicitRequest", &form, R2025_06);
    let minimal = ElicitRequestParams::form("Nothing really", ElicitationSchema::default());
    c.request("ElicitRequest", &minimal, R2025_06);
    let full = ElicitRequestParams::Form(ElicitRequestFormParams {
        mode: Some(ElicitMode::Form),
        task: Some(TaskMetadata {
            ttl: Some(1000),
            ..Default::default()
        }),
        meta: meta_with_token("e"),
        ..ElicitRequestFormParams {
            message: "More".into(),
            requested_schema: form_schema_full(),
            ..Default::default()
        }
    });
    c.request("ElicitRequest", &full, R2025_11);
    let url = ElicitRequestParams::url("Set your key", "https://example.com/key?s=1", "el-1");
    c.request("ElicitRequest", &url, R2025_11);
    if let ElicitRequestParams::Form(f) = &full {
        c.session_data(
            &["ElicitRequestFormParams", "ElicitRequestParams"],
            f,
            R2025_11,
        );
    }
    if let ElicitRequestParams::Url(u) = &url {
        c.session_data(
            &["ElicitRequestURLParams", "ElicitRequestParams"],
            u,
            R2025_11,
        );
    }

    for (name, field) in &form_schema_full().properties {
        let def = match field {
            PrimitiveSchemaDefinition::String(_) => "StringSchema",
            PrimitiveSchemaDefinition::Number(_) => "NumberSchema",
            PrimitiveSchemaDefinition::Boolean(_) => "BooleanSchema",
            PrimitiveSchemaDefinition::UntitledSingleSelect(_) => "UntitledSingleSelectEnumSchema",
            PrimitiveSchemaDefinition::TitledSingleSelect(_) => "TitledSingleSelectEnumSchema",
            PrimitiveSchemaDefinition::UntitledMultiSelect(_) => "UntitledMultiSelectEnumSchema",
            PrimitiveSchemaDefinition::TitledMultiSelect(_) => "TitledMultiSelectEnumSchema",
            PrimitiveSchemaDefinition::LegacyTitledEnum(_) => "LegacyTitledEnumSchema",
            PrimitiveSchemaDefinition::Other(_) => panic!("{name}: unexpected Other"),
        };
        c.data(&[def, "PrimitiveSchemaDefinition"], field, R2025_11);
    }
    for field in form_schema_2025_06().properties.values() {
        c.data(&["PrimitiveSchemaDefinition"], field, R2025_06);
    }
    let legacy = LegacyTitledEnumSchema {
        values: vec!["a".into()],
        enum_names: Some(vec!["A".into()]),
        title: Some("Pick".into()),
        ..Default::default()
    };
    c.data(&["EnumSchema"], &legacy, R2025_06);

    c.result(
        "ElicitResult",
        &ElicitResult::accept(obj(json!({"name": "octocat", "age": 30, "ok": true}))),
        R2025_06,
    );
    c.result("ElicitResult", &ElicitResult::decline(), R2025_06);
    c.result("ElicitResult", &ElicitResult::cancel(), R2025_06);
    c.result("ElicitResult", &ElicitResult::accept_url(), R2025_06);
    let arrays = ElicitResult {
        meta: some_meta(),
        ..ElicitResult::accept(obj(json!({"tags": ["x", "y"], "name": "n"})))
    };
    c.result("ElicitResult", &arrays, R2025_11);

    let done = ElicitationCompleteNotificationParams {
        elicitation_id: "el-1".into(),
        ..Default::default()
    };
    c.notification("ElicitationCompleteNotification", &done, R2025_11);

    let error = UrlElicitationRequiredData {
        elicitations: vec![ElicitRequestUrlParams::new(
            "Log in",
            "https://example.com/login",
            "el-2",
        )],
        ..Default::default()
    }
    .into_error("Authorization required");
    let envelope = json!({"jsonrpc": "2.0", "id": 7, "error": error});
    let checked = c.check(
        "URLElicitationRequiredError",
        &envelope,
        R2025_11,
        LAST_SESSION,
    );
    c.require("URLElicitationRequiredError", checked);
}

fn notifications(c: &mut Checker) {
    c.notification(
        "CancelledNotification",
        &CancelledNotificationParams::new(RequestId::Number(7)),
        R2024_11,
    );
    let with_reason = CancelledNotificationParams::new("req-7").with_reason("user pressed stop");
    c.notification("CancelledNotification", &with_reason, R2024_11);

    let p = ProgressNotificationParams::new(ProgressToken::Number(1), 50.0).with_total(100.0);
    c.notification("ProgressNotification", &p, R2024_11);
    let p = ProgressNotificationParams::new(ProgressToken::from("tok"), 0.5);
    c.notification("ProgressNotification", &p, R2024_11);
    let p = ProgressNotificationParams {
        meta: some_meta(),
        ..ProgressNotificationParams::new("tok".into(), 3.0).with_message("step 3")
    };
    c.notification("ProgressNotification", &p, R2025_03);
    c.data(&["ProgressToken"], &ProgressToken::Number(-3), R2024_11);
    c.data(&["ProgressToken"], &ProgressToken::from("x"), R2024_11);
    c.data(&["RequestId"], &RequestId::from("x"), R2024_11);
}

fn tasks(c: &mut Checker) {
    for status in [
        TaskStatus::Working,
        TaskStatus::InputRequired,
        TaskStatus::Completed,
        TaskStatus::Failed,
        TaskStatus::Cancelled,
    ] {
        c.session_data(&["TaskStatus"], &status, R2025_11);
        c.session_data(&["Task"], &task(status, Some(60_000)), R2025_11);
    }
    c.session_data(
        &["Task"],
        &Task::new("t", TaskStatus::Working, "2025-11-25T10:00:00Z"),
        R2025_11,
    );
    c.session_data(&["TaskMetadata"], &TaskMetadata::default(), R2025_11);
    let related = RelatedTaskMetadata {
        task_id: "task-1".into(),
        ..Default::default()
    };
    c.session_data(&["RelatedTaskMetadata"], &related, R2025_11);

    let created = CreateTaskResult {
        task: task(TaskStatus::Working, None),
        meta: some_meta(),
        extra: Default::default(),
    };
    c.result("CreateTaskResult", &created, R2025_11);

    c.request("GetTaskRequest", &GetTaskParams::new("task-1"), R2025_11);
    c.result(
        "GetTaskResult",
        &GetTaskResult::from(task(TaskStatus::Completed, Some(1))),
        R2025_11,
    );

    c.request(
        "GetTaskPayloadRequest",
        &GetTaskPayloadParams::new("task-1"),
        R2025_11,
    );
    let mut payload = GetTaskPayloadResult::from_result(&CallToolResult::text("done")).unwrap();
    related.insert_into(&mut payload.meta);
    c.result("GetTaskPayloadResult", &payload, R2025_11);
    c.result("CallToolResult", &payload, R2025_11);

    c.request(
        "CancelTaskRequest",
        &CancelTaskParams::new("task-1"),
        R2025_11,
    );
    let cancelled = CancelTaskResult {
        meta: some_meta(),
        ..CancelTaskResult::from(task(TaskStatus::Cancelled, None))
    };
    c.result("CancelTaskResult", &cancelled, R2025_11);

    c.request("ListTasksRequest", &ListTasksParams::default(), R2025_11);
    let list = ListTasksResult {
        tasks: vec![
            task(TaskStatus::Working, None),
            task(TaskStatus::Failed, Some(5)),
        ],
        next_cursor: Some("more".into()),
        ..Default::default()
    };
    c.result("ListTasksResult", &list, R2025_11);

    let mut status = TaskStatusNotificationParams::from(task(TaskStatus::InputRequired, None));
    related.insert_into(&mut status.meta);
    c.notification("TaskStatusNotification", &status, R2025_11);
}

fn pagination(c: &mut Checker) {
    c.session_data(
        &["PaginatedRequestParams"],
        &PaginatedParams::default(),
        R2025_11,
    );
    let p = PaginatedParams {
        meta: meta_with_token(9),
        ..PaginatedParams::at("abc")
    };
    c.session_data(&["PaginatedRequestParams"], &p, R2025_11);
    let envelope = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": p});
    c.check("PaginatedRequest", &envelope, R2024_11, LAST_SESSION);
    let page = ListToolsResult {
        next_cursor: Some("n".into()),
        ..Default::default()
    };
    c.result("PaginatedResult", &page, R2024_11);
}

/// The stateless era's own types (2026-07-28 only).
fn stateless(c: &mut Checker) {
    let request_meta = RequestMeta {
        protocol_version: Some("2026-07-28".into()),
        client_capabilities: Some(client_caps_full()),
        client_info: Some(implementation_full()),
        log_level: Some(LoggingLevel::Warning),
        progress_token: Some(ProgressToken::from("p-1")),
        ..Default::default()
    };
    c.data(&["RequestMetaObject"], &request_meta, LAST);
    let meta = Some(request_meta.into_meta());

    let discover = DiscoverParams {
        meta: meta.clone(),
        ..Default::default()
    };
    let envelope =
        json!({"jsonrpc": "2.0", "id": 1, "method": DiscoverParams::METHOD, "params": discover});
    c.check_method("DiscoverRequest", DiscoverParams::METHOD);
    let checked = c.check("DiscoverRequest", &envelope, LAST, LAST);
    c.require("DiscoverRequest", checked);
    let mut server_meta = Meta::new();
    server_meta.insert(
        SERVER_INFO_META_KEY.into(),
        serde_json::to_value(implementation_full()).unwrap(),
    );
    let result = DiscoverResult {
        result_type: ResultType::Complete,
        supported_versions: vec!["2026-07-28".into(), "2025-11-25".into()],
        capabilities: serde_json::from_value(
            json!({"tools": {"listChanged": true}, "logging": {}}),
        )
        .unwrap(),
        instructions: Some("Use the tools.".into()),
        ttl_ms: 60_000,
        cache_scope: CacheScope::Public,
        meta: Some(server_meta),
        extra: Default::default(),
    };
    c.data(&["DiscoverResult"], &result, LAST);

    let mut requests = InputRequests::new();
    requests.insert(
        "name".into(),
        InputRequest::Elicit(ElicitRequestParams::form(
            "Your name?",
            serde_json::from_value(
                json!({"type": "object", "properties": {"name": {"type": "string"}}}),
            )
            .unwrap(),
        )),
    );
    requests.insert(
        "roots".into(),
        InputRequest::ListRoots(ListRootsParams::default()),
    );
    requests.insert(
        "sample".into(),
        InputRequest::CreateMessage(
            serde_json::from_value(json!({"messages": [{"role": "user", "content": {"type": "text", "text": "hi"}}], "maxTokens": 5})).unwrap(),
        ),
    );
    c.data(&["InputRequests"], &requests, LAST);
    let required = InputRequiredResult::new(requests, Some("c3RhdGU".into()));
    c.data(&["InputRequiredResult"], &required, LAST);

    let mut responses = InputResponses::new();
    responses.insert(
        "name".into(),
        InputResponse::Elicit(ElicitResult::accept(obj(json!({"name": "Ada"})))),
    );
    responses.insert(
        "roots".into(),
        InputResponse::ListRoots(ListRootsResult::new(vec![Root::new("file:///w")])),
    );
    responses.insert(
        "sample".into(),
        InputResponse::CreateMessage(Box::new(
            serde_json::from_value(json!({"role": "assistant", "content": {"type": "text", "text": "yo"}, "model": "m"})).unwrap(),
        )),
    );
    c.data(&["InputResponses"], &responses, LAST);
    let retry = InputResponseRequestParams {
        input_responses: Some(responses),
        request_state: Some("c3RhdGU".into()),
        meta: meta.clone(),
        ..Default::default()
    };
    c.data(&["InputResponseRequestParams"], &retry, LAST);

    let filter = SubscriptionFilter {
        tools_list_changed: Some(true),
        prompts_list_changed: Some(false),
        resources_list_changed: Some(true),
        resource_subscriptions: Some(vec!["file:///a".into()]),
        ..Default::default()
    };
    c.data(&["SubscriptionFilter"], &filter, LAST);
    let listen = SubscriptionsListenParams {
        notifications: filter.clone(),
        meta,
        ..Default::default()
    };
    c.data(&["SubscriptionsListenRequestParams"], &listen, LAST);
    let mut sub_meta = Meta::new();
    sub_meta.insert(SUBSCRIPTION_ID_META_KEY.into(), json!("listen-1"));
    let listened = SubscriptionsListenResult {
        result_type: ResultType::Complete,
        meta: Some(sub_meta.clone()),
        ..Default::default()
    };
    c.data(&["SubscriptionsListenResult"], &listened, LAST);
    let ack = SubscriptionsAcknowledgedNotificationParams {
        notifications: filter,
        meta: Some(sub_meta),
        ..Default::default()
    };
    c.data(&["SubscriptionsAcknowledgedNotificationParams"], &ack, LAST);

    for (def, error) in [
        (
            "HeaderMismatchError",
            Error::header_mismatch("Mcp-Name 'a' is not 'b'"),
        ),
        (
            "MissingRequiredClientCapabilityError",
            Error::missing_required_client_capability("elicitation", &client_caps_full()),
        ),
        (
            "UnsupportedProtocolVersionError",
            Error::unsupported_protocol_version("1900-01-01", &["2026-07-28", "2025-11-25"]),
        ),
    ] {
        let envelope = json!({"jsonrpc": "2.0", "id": 1, "error": error});
        let checked = c.check(def, &envelope, LAST, LAST);
        c.require(def, checked);
    }
}

#[test]
fn every_type_validates_against_the_official_schemas() {
    let Some(dir) = common::schema_dir() else {
        return;
    };
    let mut c = Checker::new(&dir);
    lifecycle(&mut c);
    content(&mut c);
    tools(&mut c);
    resources(&mut c);
    prompts(&mut c);
    completion(&mut c);
    logging(&mut c);
    sampling(&mut c);
    roots(&mut c);
    elicitation(&mut c);
    notifications(&mut c);
    tasks(&mut c);
    pagination(&mut c);
    stateless(&mut c);

    eprintln!("schema validation (values checked, distinct definitions):");
    for (rev, (values, defs)) in &c.stats {
        eprintln!(
            "  {rev}: {values} values against {} definitions",
            defs.len()
        );
    }
    assert!(
        c.failures.is_empty(),
        "{} failures:\n{}",
        c.failures.len(),
        c.failures.join("\n")
    );

    // The test must not pass vacuously (a broken mapping would check nothing).
    let defs = |rev: &str| c.stats.get(rev).map_or(0, |s| s.1.len());
    assert!(
        defs(R2024_11) >= 45,
        "2024-11-05: only {} definitions",
        defs(R2024_11)
    );
    assert!(
        defs(R2025_03) >= 50,
        "2025-03-26: only {} definitions",
        defs(R2025_03)
    );
    assert!(
        defs(R2025_06) >= 60,
        "2025-06-18: only {} definitions",
        defs(R2025_06)
    );
    assert!(
        defs(R2025_11) >= 100,
        "2025-11-25: only {} definitions",
        defs(R2025_11)
    );
    assert!(
        defs(LAST) >= 50,
        "2026-07-28: only {} definitions",
        defs(LAST)
    );
}

/// The per-revision gating above matters: values that use a newer
/// revision's features are rejected by the older schemas, and broken values
/// are rejected at all.
#[test]
fn older_schemas_reject_newer_features() {
    let Some(dir) = common::schema_dir() else {
        return;
    };
    let mut c = Checker::new(&dir);
    let value = |v: &dyn erased::Ser| v.to_json();

    let audio = value(&CallToolResult::new(vec![ContentBlock::audio(
        "UklGRg==",
        "audio/wav",
    )]));
    assert!(!c.is_valid(R2024_11, "CallToolResult", &audio));
    assert!(c.is_valid(R2025_03, "CallToolResult", &audio));

    let link = value(&CallToolResult::new(vec![ContentBlock::resource_link(
        resource_min(),
    )]));
    assert!(!c.is_valid(R2025_03, "CallToolResult", &link));
    assert!(c.is_valid(R2025_06, "CallToolResult", &link));

    let many = value(&SamplingMessage::new(
        Role::User,
        vec![SamplingContentBlock::text("a")],
    ));
    assert!(!c.is_valid(R2025_06, "SamplingMessage", &many));
    assert!(c.is_valid(R2025_11, "SamplingMessage", &many));

    let url = json!({"jsonrpc": "2.0", "id": 1, "method": "elicitation/create",
        "params": value(&ElicitRequestParams::url("m", "https://example.com", "e"))});
    assert!(!c.is_valid(R2025_06, "ElicitRequest", &url));
    assert!(c.is_valid(R2025_11, "ElicitRequest", &url));

    let arrays = value(&ElicitResult::accept(obj(json!({"tags": ["x"]}))));
    assert!(!c.is_valid(R2025_06, "ElicitResult", &arrays));
    assert!(c.is_valid(R2025_11, "ElicitResult", &arrays));

    // Broken values fail everywhere, so the validators are not vacuous.
    let mut no_schema = value(&tool_min());
    no_schema.as_object_mut().unwrap().remove("inputSchema");
    let bad_uri = value(&resource_min().with_mime_type("x"))
        .to_string()
        .replace("file:///project/README.md", "not a uri");
    let bad_uri: Value = serde_json::from_str(&bad_uri).unwrap();
    for rev in common::SESSION_REVISIONS {
        assert!(
            !c.is_valid(rev, "Tool", &no_schema),
            "{rev}: Tool without inputSchema accepted"
        );
        assert!(
            !c.is_valid(rev, "Resource", &bad_uri),
            "{rev}: a resource with a bad URI accepted"
        );
        assert!(!c.is_valid(rev, "LoggingLevel", &json!("verbose")), "{rev}");
    }
}

/// Lets one closure serialize values of different types.
mod erased {
    pub trait Ser {
        fn to_json(&self) -> serde_json::Value;
    }

    impl<T: serde::Serialize> Ser for T {
        fn to_json(&self) -> serde_json::Value {
            serde_json::to_value(self).unwrap()
        }
    }
}
