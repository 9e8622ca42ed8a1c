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

fn meta_with_token(token: impl Into<ProgressToken>) -> Meta {
    let mut meta = Meta::new();
    meta.insert("progressToken".into(), token.into().into());
    meta.insert("com.example/trace".into(), json!("t-1"));
    meta
}

fn some_meta() -> Meta {
    obj(json!({"com.example/origin": "test"}))
}

// ---------------------------------------------------------------- fixtures

fn icon() -> Icon {
    Icon::new("https://example.com/icon.png")
        .with_mime_type("image/png")
        .with_sizes(vec!["48x48".into(), "96x96".into()])
        .with_theme(IconTheme::Dark)
}

fn annotations_2025_03() -> Annotations {
    Annotations::default()
        .with_audience(vec![Role::User, Role::Assistant])
        .with_priority(0.25)
}

fn annotations_full() -> Annotations {
    Annotations::default()
        .with_audience(vec![Role::User])
        .with_priority(1.0)
        .with_last_modified("2025-01-12T15:00:58Z")
}

fn resource_min() -> Resource {
    Resource::new("file:///project/README.md", "README.md")
}

fn resource_full() -> Resource {
    resource_min()
        .with_title("Project documentation")
        .with_description("What the project is")
        .with_mime_type("text/markdown")
        .with_annotations(annotations_full())
        .with_size(1024)
        .with_icons(vec![icon()])
        .with_meta(some_meta())
}

fn text_full() -> ContentBlock {
    ContentBlock::Text(
        TextContent::new("hello")
            .with_annotations(annotations_full())
            .with_meta(some_meta()),
    )
}

fn image_full() -> ContentBlock {
    ContentBlock::Image(
        ImageContent::new("iVBORw0KGgo=", "image/png")
            .with_annotations(annotations_full())
            .with_meta(some_meta()),
    )
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
        ContentBlock::Audio(
            AudioContent::new("UklGRg==", "audio/wav")
                .with_annotations(annotations_full())
                .with_meta(some_meta()),
        ),
        ContentBlock::resource_link(resource_min()),
        ContentBlock::resource_link(resource_full()),
        ContentBlock::Resource(
            EmbeddedResource::new(ResourceContents::Blob(
                BlobResourceContents::new("file:///c.bin", "AAEC")
                    .with_mime_type("application/octet-stream")
                    .with_meta(some_meta()),
            ))
            .with_annotations(annotations_full())
            .with_meta(some_meta()),
        ),
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
    .with_annotations(
        ToolAnnotations::default()
            .with_title("Add")
            .with_read_only_hint(true)
            .with_destructive_hint(false)
            .with_idempotent_hint(true)
            .with_open_world_hint(false),
    )
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
    tool_2025_06()
        .with_execution(ToolExecution::default().with_task_support(TaskSupport::Optional))
        .with_icons(vec![icon()])
        .with_meta(some_meta())
}

fn task(status: TaskStatus, ttl: Option<u64>) -> Task {
    let mut task = Task::new("task-1", status, "2025-11-25T10:00:00Z")
        .with_poll_interval(500)
        .with_status_message("going")
        .with_last_updated_at("2025-11-25T10:00:05Z");
    task.ttl = ttl;
    task
}

fn implementation_full() -> Implementation {
    Implementation::new("example", "1.2.3")
        .with_title("Example")
        .with_description("An example")
        .with_icons(vec![icon()])
        .with_website_url("https://example.com")
}

fn client_caps_2024() -> ClientCapabilities {
    ClientCapabilities::default()
        .with_experimental("com.example/x", obj(json!({"on": true})))
        .with_roots(RootsCapability::default().with_list_changed(true))
        .with_sampling(SamplingCapability::default())
}

fn client_caps_full() -> ClientCapabilities {
    client_caps_2024()
        .with_sampling(SamplingCapability::default().with_context().with_tools())
        .with_elicitation(ElicitationCapability::default().with_form().with_url())
        .with_tasks(
            ClientTasksCapability::default()
                .with_list()
                .with_cancel()
                .with_requests(
                    ClientTaskRequests::default()
                        .with_sampling(SamplingTaskRequests::default().with_create_message())
                        .with_elicitation(ElicitationTaskRequests::default().with_create()),
                ),
        )
}

fn server_caps_2024() -> ServerCapabilities {
    ServerCapabilities::default()
        .with_experimental("com.example/x", JsonObject::new())
        .with_logging()
        .with_prompts(PromptsCapability::default().with_list_changed(true))
        .with_resources(
            ResourcesCapability::default()
                .with_subscribe(true)
                .with_list_changed(false),
        )
        .with_tools(ToolsCapability::default().with_list_changed(true))
}

fn server_caps_full() -> ServerCapabilities {
    server_caps_2024()
        .with_completions()
        .with_tasks(ServerTasksCapability::tool_calls())
}

fn form_schema_2025_06() -> ElicitationSchema {
    ElicitationSchema::default()
        .with_property(
            "name",
            StringSchema::default()
                .with_title("Name")
                .with_description("Your name")
                .with_min_length(1)
                .with_max_length(50),
            true,
        )
        .with_property("email", StringSchema::default().with_format("email"), false)
        .with_property(
            "age",
            NumberSchema::default()
                .with_type(NumberType::Integer)
                .with_minimum(18.0)
                .with_maximum(130.0),
            false,
        )
        .with_property("ratio", NumberSchema::default().with_minimum(0.5), false)
        .with_property(
            "subscribe",
            BooleanSchema::default()
                .with_title("Subscribe")
                .with_default(false),
            false,
        )
        .with_property(
            "size",
            LegacyTitledEnumSchema::new(vec!["s".into(), "m".into()])
                .with_enum_names(vec!["Small".into(), "Medium".into()]),
            false,
        )
        .with_property(
            "plain",
            UntitledSingleSelectEnumSchema::new(vec!["a".into(), "b".into()]),
            false,
        )
}

fn form_schema_full() -> ElicitationSchema {
    let mut schema = form_schema_2025_06()
        .with_property(
            "color",
            TitledSingleSelectEnumSchema::new(vec![
                EnumOption::new("#f00", "Red"),
                EnumOption::new("#0f0", "Green"),
            ])
            .with_title("Color")
            .with_default("#f00"),
            false,
        )
        .with_property(
            "tags",
            UntitledMultiSelectEnumSchema::new(UntitledEnumItems::new(vec![
                "x".into(),
                "y".into(),
            ]))
            .with_min_items(1)
            .with_max_items(2)
            .with_default(vec!["x".into()]),
            false,
        )
        .with_property(
            "colors",
            TitledMultiSelectEnumSchema::new(TitledEnumItems::new(vec![
                EnumOption::new("#f00", "Red"),
                EnumOption::new("#00f", "Blue"),
            ])),
            false,
        )
        .with_property(
            "nickname",
            StringSchema::default().with_default("bob"),
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
    let elicit = InitializeParams::new(
        "2025-06-18",
        client_caps_2024().with_elicitation(ElicitationCapability::default()),
        Implementation::new("c", "1").with_title("Client"),
    );
    c.request("InitializeRequest", &elicit, R2025_06);
    let mut full = InitializeParams::new("2025-11-25", client_caps_full(), implementation_full());
    full.meta = Some(meta_with_token("init"));
    c.request("InitializeRequest", &full, R2025_11);

    let result = InitializeResult::new(
        "2024-11-05",
        ServerCapabilities::default(),
        Implementation::new("s", "0.1.0"),
    );
    c.result("InitializeResult", &result, R2024_11);
    let mut result = result.with_instructions("Use the tools.");
    result.capabilities = server_caps_2024();
    c.result("InitializeResult", &result, R2024_11);
    result.capabilities = server_caps_2024().with_completions();
    c.result("InitializeResult", &result, R2025_03);
    result.protocol_version = "2025-11-25".into();
    result.capabilities = server_caps_full();
    result.server_info = implementation_full();
    result.meta = Some(some_meta());
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
    let with_meta = InitializedNotificationParams::default().with_meta(some_meta());
    c.notification("InitializedNotification", &with_meta, R2024_11);
    c.request("PingRequest", &PingParams::default(), R2024_11);
    let ping = PingParams::default().with_meta(meta_with_token(3));
    c.request("PingRequest", &ping, R2024_11);
    c.result("EmptyResult", &EmptyResult::default(), R2024_11);
    c.result(
        "Result",
        &EmptyResult::default().with_meta(some_meta()),
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
    let annotated =
        ContentBlock::Text(TextContent::new("x").with_annotations(annotations_2025_03()));
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
    let with_meta = ResourceContents::Text(
        TextResourceContents::new("https://example.com/x", String::new()).with_meta(some_meta()),
    );
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
        let execution = ToolExecution::default().with_task_support(support);
        c.session_data(&["ToolExecution"], &execution, R2025_11);
    }

    c.request("ListToolsRequest", &ListToolsParams::default(), R2024_11);
    c.request("ListToolsRequest", &ListToolsParams::at("page-2"), R2024_11);
    let list = ListToolsParams::at("page-3").with_meta(meta_with_token("list"));
    c.request("ListToolsRequest", &list, R2025_06);
    let result = ListToolsResult::new(vec![tool_min()]).with_next_cursor("page-2");
    c.result("ListToolsResult", &result, R2024_11);
    c.result("ListToolsResult", &ListToolsResult::default(), R2024_11);
    let result = ListToolsResult::new(vec![
        tool_min(),
        tool_2025_03(),
        tool_2025_06(),
        tool_full(),
    ])
    .with_meta(some_meta());
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
    let call = call.with_meta(meta_with_token(42));
    c.request("CallToolRequest", &call, R2024_11);
    let call = call.with_task(TaskMetadata::default().with_ttl(60_000));
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
    let full = CallToolResult::new(blocks_all())
        .with_is_error(false)
        .with_meta(some_meta());
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
    let template_full = template
        .clone()
        .with_title("Files")
        .with_description("Project files")
        .with_mime_type("application/octet-stream")
        .with_annotations(annotations_full())
        .with_icons(vec![icon()])
        .with_meta(some_meta());
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
    let result = ListResourcesResult::new(vec![resource_min(), described]).with_next_cursor("c2");
    c.result("ListResourcesResult", &result, R2024_11);
    let result = ListResourcesResult::new(vec![resource_full()]).with_meta(some_meta());
    c.result("ListResourcesResult", &result, R2025_11);

    c.request(
        "ListResourceTemplatesRequest",
        &ListResourceTemplatesParams::default(),
        R2024_11,
    );
    let result = ListResourceTemplatesResult::new(vec![template]).with_next_cursor("c2");
    c.result("ListResourceTemplatesResult", &result, R2024_11);
    let result = ListResourceTemplatesResult::new(vec![template_full]);
    c.result("ListResourceTemplatesResult", &result, R2025_11);

    c.request(
        "ReadResourceRequest",
        &ReadResourceParams::new("file:///a.txt"),
        R2024_11,
    );
    let read =
        ReadResourceParams::new("https://example.com/data?id=1").with_meta(meta_with_token("r"));
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
    let several = ReadResourceResult::new(vec![
        ResourceContents::text("file:///dir/a", None, "A"),
        ResourceContents::blob("file:///dir/b", None, "AA=="),
    ])
    .with_meta(some_meta());
    c.result("ReadResourceResult", &several, R2024_11);

    let subscribe = SubscribeParams::new("file:///a.txt");
    c.request("SubscribeRequest", &subscribe, R2024_11);
    let unsubscribe = UnsubscribeParams::new("file:///a.txt").with_meta(some_meta());
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
    let full = prompt
        .clone()
        .with_title("Review")
        .with_icons(vec![icon()])
        .with_meta(some_meta())
        .with_arguments(vec![
            PromptArgument::new("code", "The code", false).with_title("Code")
        ]);
    c.data(&["Prompt"], &full, R2025_11);
    c.data(
        &["PromptArgument"],
        &PromptArgument::new("a", "b", true),
        R2024_11,
    );
    let mut arg = PromptArgument::default();
    arg.name = "x".into();
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
    let result = ListPromptsResult::new(vec![prompt]).with_next_cursor("n");
    c.result("ListPromptsResult", &result, R2024_11);
    let result = ListPromptsResult::new(vec![full]).with_meta(some_meta());
    c.result("ListPromptsResult", &result, R2025_11);

    c.request(
        "GetPromptRequest",
        &GetPromptParams::new("review"),
        R2024_11,
    );
    let get = GetPromptParams::new("review")
        .with_argument("code", "fn main() {}")
        .with_argument("lang", "rust")
        .with_meta(meta_with_token(1));
    c.request("GetPromptRequest", &get, R2024_11);
    let result = GetPromptResult::new(vec![
        PromptMessage::user_text("Review this"),
        PromptMessage::assistant_text("OK"),
    ])
    .with_description("A review");
    c.result("GetPromptResult", &result, R2024_11);
    let result = GetPromptResult::new(
        blocks_all()
            .into_iter()
            .map(|b| PromptMessage::new(Role::User, b))
            .collect(),
    )
    .with_meta(some_meta());
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
    let mut context = prompt
        .with_context(CompletionContext::default().with_argument("lang", "rust"))
        .with_meta(meta_with_token("c"));
    context.reference =
        CompletionReference::Prompt(PromptReference::new("review").with_title("Review"));
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
    let bare = CompleteResult::default()
        .with_completion(Completion::new(vec![]))
        .with_meta(some_meta());
    c.result("CompleteResult", &bare, R2024_11);
}

fn logging(c: &mut Checker) {
    for level in LoggingLevel::ALL {
        c.data(&["LoggingLevel"], &level, R2024_11);
        let set = SetLevelParams::new(level);
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
    let with_meta = LoggingMessageNotificationParams::new(LoggingLevel::Debug, json!(null))
        .with_meta(some_meta());
    c.notification("LoggingMessageNotification", &with_meta, R2024_11);
}

fn sampling(c: &mut Checker) {
    let minimal = CreateMessageParams::new(vec![SamplingMessage::user_text("Hi")], 100);
    c.request("CreateMessageRequest", &minimal, R2024_11);
    let image = SamplingMessage::new(
        Role::User,
        SamplingContentBlock::Image(ImageContent::new("iVBORw0KGgo=", "image/png")),
    );
    let prefs = ModelPreferences::default()
        .with_hints(vec![
            ModelHint::new("claude-3-sonnet"),
            ModelHint::default(),
        ])
        .with_cost_priority(0.3)
        .with_speed_priority(1.0)
        .with_intelligence_priority(0.0);
    let full_2024 = CreateMessageParams::new(
        vec![
            SamplingMessage::user_text("Hi"),
            SamplingMessage::assistant_text("Hello"),
            image,
        ],
        256,
    )
    .with_model_preferences(prefs.clone())
    .with_system_prompt("Be brief.")
    .with_include_context(IncludeContext::ThisServer)
    .with_temperature(0.7)
    .with_stop_sequences(vec!["\n\n".into()])
    .with_metadata(obj(json!({"provider": {"x": 1}})))
    .with_meta(meta_with_token("s"));
    c.request("CreateMessageRequest", &full_2024, R2024_11);
    for ctx in [IncludeContext::None, IncludeContext::AllServers] {
        let p = minimal.clone().with_include_context(ctx);
        c.request("CreateMessageRequest", &p, R2024_11);
    }
    let audio = SamplingMessage::new(
        Role::User,
        SamplingContentBlock::Audio(AudioContent::new("UklGRg==", "audio/wav")),
    );
    c.request(
        "CreateMessageRequest",
        &CreateMessageParams::new(vec![audio.clone()], 10),
        R2025_03,
    );

    let tool_use = SamplingContentBlock::ToolUse(
        ToolUseContent::new("call_1", "get_weather", obj(json!({"city": "Paris"})))
            .with_meta(some_meta()),
    );
    let tool_result = SamplingContentBlock::ToolResult(
        ToolResultContent::new("call_1", blocks_all())
            .with_structured_content(json!({"temp": 18}))
            .with_is_error(false)
            .with_meta(some_meta()),
    );
    let tools = CreateMessageParams::new(
        vec![
            SamplingMessage::user_text("Weather?"),
            SamplingMessage::new(Role::Assistant, vec![tool_use.clone(), tool_use.clone()]),
            SamplingMessage::new(Role::User, vec![tool_result.clone()]).with_meta(some_meta()),
            SamplingMessage::new(Role::User, tool_result.clone()),
        ],
        1000,
    )
    .with_tools(vec![tool_min(), tool_full()])
    .with_tool_choice(ToolChoice::default().with_mode(ToolChoiceMode::Auto))
    .with_task(TaskMetadata::default());
    c.request("CreateMessageRequest", &tools, R2025_11);
    for mode in [ToolChoiceMode::None, ToolChoiceMode::Required] {
        let choice = ToolChoice::default().with_mode(mode);
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
    let stopped = CreateMessageResult::text("claude", "Par")
        .with_stop_reason(CreateMessageResult::MAX_TOKENS)
        .with_meta(some_meta());
    c.result("CreateMessageResult", &stopped, R2024_11);
    let audio_result = CreateMessageResult::new(Role::Assistant, audio.content.clone(), "m");
    c.result("CreateMessageResult", &audio_result, R2025_03);
    let tool_use_result =
        CreateMessageResult::new(Role::Assistant, vec![tool_use.clone(), tool_use], "m")
            .with_stop_reason(CreateMessageResult::TOOL_USE);
    c.result("CreateMessageResult", &tool_use_result, R2025_11);
}

fn roots(c: &mut Checker) {
    c.request("ListRootsRequest", &ListRootsParams::default(), R2024_11);
    let result = ListRootsResult::new(vec![
        Root::new("file:///home/user/project").with_name("Project"),
        Root::new("file:///tmp"),
    ]);
    c.result("ListRootsResult", &result, R2024_11);
    let with_meta = ListRootsResult::new(vec![Root::new("file:///x").with_meta(some_meta())])
        .with_meta(some_meta());
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
    let full = ElicitRequestParams::Form(
        ElicitRequestFormParams::new("More", form_schema_full())
            .with_mode(ElicitMode::Form)
            .with_task(TaskMetadata::default().with_ttl(1000))
            .with_meta(meta_with_token("e")),
    );
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
    let legacy = LegacyTitledEnumSchema::new(vec!["a".into()])
        .with_enum_names(vec!["A".into()])
        .with_title("Pick");
    c.data(&["EnumSchema"], &legacy, R2025_06);

    c.result(
        "ElicitResult",
        &ElicitResult::accept(obj(json!({"name": "octocat", "age": 30, "ok": true}))),
        R2025_06,
    );
    c.result("ElicitResult", &ElicitResult::decline(), R2025_06);
    c.result("ElicitResult", &ElicitResult::cancel(), R2025_06);
    c.result("ElicitResult", &ElicitResult::accept_url(), R2025_06);
    let arrays =
        ElicitResult::accept(obj(json!({"tags": ["x", "y"], "name": "n"}))).with_meta(some_meta());
    c.result("ElicitResult", &arrays, R2025_11);

    let done = ElicitationCompleteNotificationParams::new("el-1");
    c.notification("ElicitationCompleteNotification", &done, R2025_11);

    let error = UrlElicitationRequiredData::new(vec![ElicitRequestUrlParams::new(
        "Log in",
        "https://example.com/login",
        "el-2",
    )])
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
    let p = ProgressNotificationParams::new("tok".into(), 3.0)
        .with_message("step 3")
        .with_meta(some_meta());
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
    let related = RelatedTaskMetadata::new("task-1");
    c.session_data(&["RelatedTaskMetadata"], &related, R2025_11);

    let created = CreateTaskResult::new(task(TaskStatus::Working, None)).with_meta(some_meta());
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
    let cancelled =
        CancelTaskResult::from(task(TaskStatus::Cancelled, None)).with_meta(some_meta());
    c.result("CancelTaskResult", &cancelled, R2025_11);

    c.request("ListTasksRequest", &ListTasksParams::default(), R2025_11);
    let list = ListTasksResult::new(vec![
        task(TaskStatus::Working, None),
        task(TaskStatus::Failed, Some(5)),
    ])
    .with_next_cursor("more");
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
    let p = PaginatedParams::at("abc").with_meta(meta_with_token(9));
    c.session_data(&["PaginatedRequestParams"], &p, R2025_11);
    let envelope = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": p});
    c.check("PaginatedRequest", &envelope, R2024_11, LAST_SESSION);
    let page = ListToolsResult::default().with_next_cursor("n");
    c.result("PaginatedResult", &page, R2024_11);
}

/// The stateless era's own types (2026-07-28 only).
fn stateless(c: &mut Checker) {
    let request_meta = RequestMeta::default()
        .with_protocol_version("2026-07-28")
        .with_client_capabilities(client_caps_full())
        .with_client_info(implementation_full())
        .with_log_level(LoggingLevel::Warning)
        .with_progress_token(ProgressToken::from("p-1"));
    c.data(&["RequestMetaObject"], &request_meta, LAST);
    let meta = request_meta.into_meta();

    let discover = DiscoverParams::default().with_meta(meta.clone());
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
    let result = DiscoverResult::new(
        vec!["2026-07-28".into(), "2025-11-25".into()],
        serde_json::from_value(json!({"tools": {"listChanged": true}, "logging": {}})).unwrap(),
        60_000,
        CacheScope::Public,
    )
    .with_instructions("Use the tools.")
    .with_meta(server_meta);
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
    let retry = InputResponseRequestParams::default()
        .with_input_responses(responses)
        .with_request_state("c3RhdGU")
        .with_meta(meta.clone());
    c.data(&["InputResponseRequestParams"], &retry, LAST);

    let filter = SubscriptionFilter::default()
        .with_tools_list_changed(true)
        .with_prompts_list_changed(false)
        .with_resources_list_changed(true)
        .with_resource_subscriptions(vec!["file:///a".into()]);
    c.data(&["SubscriptionFilter"], &filter, LAST);
    let listen = SubscriptionsListenParams::new(filter.clone()).with_meta(meta);
    c.data(&["SubscriptionsListenRequestParams"], &listen, LAST);
    let mut sub_meta = Meta::new();
    sub_meta.insert(SUBSCRIPTION_ID_META_KEY.into(), json!("listen-1"));
    let listened = SubscriptionsListenResult::default().with_meta(sub_meta.clone());
    c.data(&["SubscriptionsListenResult"], &listened, LAST);
    let ack = SubscriptionsAcknowledgedNotificationParams::new(filter).with_meta(sub_meta);
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
