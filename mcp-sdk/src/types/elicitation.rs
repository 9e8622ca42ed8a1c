//! Elicitation: the server asks the user for input through the client
//! (`elicitation/create`, 2025-06-18+), with a form or (2025-11-25) a URL.

use super::{
    const_str, impl_has_meta, impl_notification, impl_request, impl_with_extra, num, JsonObject,
    Meta, TaskMetadata,
};
use crate::error::{Error, ErrorCode};
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const_str! {
    /// The `"type": "string"` of a string or single-select schema.
    StringType = "string";
    /// The `"type": "boolean"` of a boolean schema.
    BooleanType = "boolean";
    /// The `"type": "array"` of a multi-select schema.
    ArrayType = "array";
    /// The `"type": "object"` of a requested schema.
    ObjectType = "object";
}

/// The `type` of a number schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NumberType {
    /// Any number.
    #[default]
    Number,
    /// Whole numbers only.
    Integer,
}

/// How the user is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElicitMode {
    /// Through a form the client shows, described by a JSON Schema.
    Form,
    /// Through a web page the user opens (2025-11-25), for data that must
    /// not pass through the client, such as credentials.
    Url,
}

/// Gives form field schemas their `with_title` and `with_description`
/// setters.
macro_rules! field_labels {
    ($($ty:ty),* $(,)?) => {$(
        impl $ty {
            /// Sets the field's label.
            #[must_use]
            pub fn with_title(mut self, title: impl Into<String>) -> Self {
                self.title = Some(title.into());
                self
            }

            /// Sets the help text for the field.
            #[must_use]
            pub fn with_description(mut self, description: impl Into<String>) -> Self {
                self.description = Some(description.into());
                self
            }
        }
    )*};
}

/// A text field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct StringSchema {
    /// Always `"string"`.
    #[serde(rename = "type")]
    pub type_: StringType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The fewest characters allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// The most characters allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// The expected format: `email`, `uri`, `date` or `date-time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    /// The initial value (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl StringSchema {
    /// Sets the fewest characters allowed.
    #[must_use]
    pub fn with_min_length(mut self, min_length: u64) -> Self {
        self.min_length = Some(min_length);
        self
    }

    /// Sets the most characters allowed.
    #[must_use]
    pub fn with_max_length(mut self, max_length: u64) -> Self {
        self.max_length = Some(max_length);
        self
    }

    /// Sets the expected format: `email`, `uri`, `date` or `date-time`.
    #[must_use]
    pub fn with_format(mut self, format: impl Into<String>) -> Self {
        self.format = Some(format.into());
        self
    }

    /// Sets the initial value (2025-11-25).
    #[must_use]
    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        self.default = Some(default.into());
        self
    }
}

/// A number field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct NumberSchema {
    /// `"number"` or `"integer"`.
    #[serde(rename = "type")]
    pub type_: NumberType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The smallest value allowed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub minimum: Option<f64>,
    /// The largest value allowed.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub maximum: Option<f64>,
    /// The initial value (2025-11-25).
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        serialize_with = "num::opt_f64"
    )]
    pub default: Option<f64>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl NumberSchema {
    /// Sets `"number"` or `"integer"`.
    #[must_use]
    pub fn with_type(mut self, type_: NumberType) -> Self {
        self.type_ = type_;
        self
    }

    /// Sets the smallest value allowed.
    #[must_use]
    pub fn with_minimum(mut self, minimum: f64) -> Self {
        self.minimum = Some(minimum);
        self
    }

    /// Sets the largest value allowed.
    #[must_use]
    pub fn with_maximum(mut self, maximum: f64) -> Self {
        self.maximum = Some(maximum);
        self
    }

    /// Sets the initial value (2025-11-25).
    #[must_use]
    pub fn with_default(mut self, default: f64) -> Self {
        self.default = Some(default);
        self
    }
}

/// A yes/no field.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BooleanSchema {
    /// Always `"boolean"`.
    #[serde(rename = "type")]
    pub type_: BooleanType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The initial value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<bool>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl BooleanSchema {
    /// Sets the initial value.
    #[must_use]
    pub fn with_default(mut self, default: bool) -> Self {
        self.default = Some(default);
        self
    }
}

/// One choice of a titled select: the value and its label.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EnumOption {
    /// The value sent back (`const`).
    #[serde(rename = "const")]
    pub value: String,
    /// The label shown.
    pub title: String,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl EnumOption {
    /// A value with a label.
    pub fn new(value: impl Into<String>, title: impl Into<String>) -> Self {
        EnumOption {
            value: value.into(),
            title: title.into(),
            extra: Map::new(),
        }
    }
}

/// A single choice among values shown as they are (2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UntitledSingleSelectEnumSchema {
    /// Always `"string"`.
    #[serde(rename = "type")]
    pub type_: StringType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The values to choose from.
    #[serde(rename = "enum")]
    pub values: Vec<String>,
    /// The initial value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UntitledSingleSelectEnumSchema {
    /// A choice among these values.
    pub fn new(values: Vec<String>) -> Self {
        UntitledSingleSelectEnumSchema {
            values,
            ..Default::default()
        }
    }

    /// Sets the initial value.
    #[must_use]
    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        self.default = Some(default.into());
        self
    }
}

/// A single choice among labelled values (2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TitledSingleSelectEnumSchema {
    /// Always `"string"`.
    #[serde(rename = "type")]
    pub type_: StringType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The choices.
    pub one_of: Vec<EnumOption>,
    /// The initial value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TitledSingleSelectEnumSchema {
    /// A choice among these labelled values.
    pub fn new(one_of: Vec<EnumOption>) -> Self {
        TitledSingleSelectEnumSchema {
            one_of,
            ..Default::default()
        }
    }

    /// Sets the initial value.
    #[must_use]
    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        self.default = Some(default.into());
        self
    }
}

/// The items of an untitled multi-select: plain string values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UntitledEnumItems {
    /// Always `"string"`.
    #[serde(rename = "type")]
    pub type_: StringType,
    /// The values to choose from.
    #[serde(rename = "enum")]
    pub values: Vec<String>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UntitledEnumItems {
    /// These values.
    pub fn new(values: Vec<String>) -> Self {
        UntitledEnumItems {
            values,
            ..Default::default()
        }
    }
}

/// The items of a titled multi-select: labelled values.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TitledEnumItems {
    /// The choices.
    pub any_of: Vec<EnumOption>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TitledEnumItems {
    /// These labelled values.
    pub fn new(any_of: Vec<EnumOption>) -> Self {
        TitledEnumItems {
            any_of,
            extra: Map::new(),
        }
    }
}

/// Several choices among values shown as they are (2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UntitledMultiSelectEnumSchema {
    /// Always `"array"`.
    #[serde(rename = "type")]
    pub type_: ArrayType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The fewest choices allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    /// The most choices allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    /// The values to choose from.
    pub items: UntitledEnumItems,
    /// The initial choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Vec<String>>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UntitledMultiSelectEnumSchema {
    /// Several choices among these items.
    pub fn new(items: UntitledEnumItems) -> Self {
        UntitledMultiSelectEnumSchema {
            items,
            ..Default::default()
        }
    }

    /// Sets the fewest choices allowed.
    #[must_use]
    pub fn with_min_items(mut self, min_items: u64) -> Self {
        self.min_items = Some(min_items);
        self
    }

    /// Sets the most choices allowed.
    #[must_use]
    pub fn with_max_items(mut self, max_items: u64) -> Self {
        self.max_items = Some(max_items);
        self
    }

    /// Sets the initial choices.
    #[must_use]
    pub fn with_default(mut self, default: Vec<String>) -> Self {
        self.default = Some(default);
        self
    }
}

/// Several choices among labelled values (2025-11-25).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TitledMultiSelectEnumSchema {
    /// Always `"array"`.
    #[serde(rename = "type")]
    pub type_: ArrayType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The fewest choices allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_items: Option<u64>,
    /// The most choices allowed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_items: Option<u64>,
    /// The choices.
    pub items: TitledEnumItems,
    /// The initial choices.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Vec<String>>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl TitledMultiSelectEnumSchema {
    /// Several choices among these items.
    pub fn new(items: TitledEnumItems) -> Self {
        TitledMultiSelectEnumSchema {
            items,
            ..Default::default()
        }
    }

    /// Sets the fewest choices allowed.
    #[must_use]
    pub fn with_min_items(mut self, min_items: u64) -> Self {
        self.min_items = Some(min_items);
        self
    }

    /// Sets the most choices allowed.
    #[must_use]
    pub fn with_max_items(mut self, max_items: u64) -> Self {
        self.max_items = Some(max_items);
        self
    }

    /// Sets the initial choices.
    #[must_use]
    pub fn with_default(mut self, default: Vec<String>) -> Self {
        self.default = Some(default);
        self
    }
}

/// A single choice with labels in a parallel `enumNames` array: the
/// 2025-06-18 enum schema, deprecated by the titled selects.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct LegacyTitledEnumSchema {
    /// Always `"string"`.
    #[serde(rename = "type")]
    pub type_: StringType,
    /// The field's label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Help text for the field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The values to choose from.
    #[serde(rename = "enum")]
    pub values: Vec<String>,
    /// Their labels, in the same order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enum_names: Option<Vec<String>>,
    /// The initial value (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl LegacyTitledEnumSchema {
    /// A choice among these values.
    pub fn new(values: Vec<String>) -> Self {
        LegacyTitledEnumSchema {
            values,
            ..Default::default()
        }
    }

    /// Sets the labels, in the order of the values.
    #[must_use]
    pub fn with_enum_names(mut self, enum_names: Vec<String>) -> Self {
        self.enum_names = Some(enum_names);
        self
    }

    /// Sets the initial value (2025-11-25).
    #[must_use]
    pub fn with_default(mut self, default: impl Into<String>) -> Self {
        self.default = Some(default.into());
        self
    }
}

field_labels!(
    StringSchema,
    NumberSchema,
    BooleanSchema,
    UntitledSingleSelectEnumSchema,
    TitledSingleSelectEnumSchema,
    UntitledMultiSelectEnumSchema,
    TitledMultiSelectEnumSchema,
    LegacyTitledEnumSchema,
);

/// The schema of one form field: a flat, primitive JSON Schema. Told apart
/// by `type` and by which of `enum`, `enumNames`, `oneOf` and `items.anyOf`
/// are present.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum PrimitiveSchemaDefinition {
    /// A text field.
    String(StringSchema),
    /// A number field.
    Number(NumberSchema),
    /// A yes/no field.
    Boolean(BooleanSchema),
    /// A single choice among plain values.
    UntitledSingleSelect(UntitledSingleSelectEnumSchema),
    /// A single choice among labelled values.
    TitledSingleSelect(TitledSingleSelectEnumSchema),
    /// Several choices among plain values.
    UntitledMultiSelect(UntitledMultiSelectEnumSchema),
    /// Several choices among labelled values.
    TitledMultiSelect(TitledMultiSelectEnumSchema),
    /// A single choice with `enumNames` labels (2025-06-18 style).
    LegacyTitledEnum(LegacyTitledEnumSchema),
    /// A schema of a kind this SDK does not know, kept as it came.
    Other(JsonObject),
}

impl<'de> Deserialize<'de> for PrimitiveSchemaDefinition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use PrimitiveSchemaDefinition as P;
        let obj = JsonObject::deserialize(d)?;
        let has = |k: &str| obj.contains_key(k);
        let items_have = |k: &str| {
            obj.get("items")
                .and_then(Value::as_object)
                .is_some_and(|i| i.contains_key(k))
        };
        let kind = obj.get("type").and_then(Value::as_str).unwrap_or_default();
        fn parse<T: serde::de::DeserializeOwned, E: serde::de::Error>(
            obj: JsonObject,
        ) -> Result<T, E> {
            serde_json::from_value(Value::Object(obj)).map_err(E::custom)
        }
        match kind {
            "string" if has("oneOf") => parse(obj).map(P::TitledSingleSelect),
            "string" if has("enum") && has("enumNames") => parse(obj).map(P::LegacyTitledEnum),
            "string" if has("enum") => parse(obj).map(P::UntitledSingleSelect),
            "string" => parse(obj).map(P::String),
            "number" | "integer" => parse(obj).map(P::Number),
            "boolean" => parse(obj).map(P::Boolean),
            "array" if items_have("anyOf") => parse(obj).map(P::TitledMultiSelect),
            "array" if items_have("enum") => parse(obj).map(P::UntitledMultiSelect),
            _ => Ok(P::Other(obj)),
        }
    }
}

impl From<StringSchema> for PrimitiveSchemaDefinition {
    fn from(s: StringSchema) -> Self {
        PrimitiveSchemaDefinition::String(s)
    }
}

impl From<NumberSchema> for PrimitiveSchemaDefinition {
    fn from(s: NumberSchema) -> Self {
        PrimitiveSchemaDefinition::Number(s)
    }
}

impl From<BooleanSchema> for PrimitiveSchemaDefinition {
    fn from(s: BooleanSchema) -> Self {
        PrimitiveSchemaDefinition::Boolean(s)
    }
}

impl From<UntitledSingleSelectEnumSchema> for PrimitiveSchemaDefinition {
    fn from(s: UntitledSingleSelectEnumSchema) -> Self {
        PrimitiveSchemaDefinition::UntitledSingleSelect(s)
    }
}

impl From<TitledSingleSelectEnumSchema> for PrimitiveSchemaDefinition {
    fn from(s: TitledSingleSelectEnumSchema) -> Self {
        PrimitiveSchemaDefinition::TitledSingleSelect(s)
    }
}

impl From<UntitledMultiSelectEnumSchema> for PrimitiveSchemaDefinition {
    fn from(s: UntitledMultiSelectEnumSchema) -> Self {
        PrimitiveSchemaDefinition::UntitledMultiSelect(s)
    }
}

impl From<TitledMultiSelectEnumSchema> for PrimitiveSchemaDefinition {
    fn from(s: TitledMultiSelectEnumSchema) -> Self {
        PrimitiveSchemaDefinition::TitledMultiSelect(s)
    }
}

impl From<LegacyTitledEnumSchema> for PrimitiveSchemaDefinition {
    fn from(s: LegacyTitledEnumSchema) -> Self {
        PrimitiveSchemaDefinition::LegacyTitledEnum(s)
    }
}

/// The form a form-mode elicitation asks for: a flat object schema whose
/// properties are primitive fields.
///
/// Properties are kept in name order, not in the order they came in.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitationSchema {
    /// The JSON Schema dialect, if stated (2025-11-25).
    #[serde(rename = "$schema", default, skip_serializing_if = "Option::is_none")]
    pub schema: Option<String>,
    /// Always `"object"`.
    #[serde(rename = "type")]
    pub type_: ObjectType,
    /// The fields, by name.
    pub properties: BTreeMap<String, PrimitiveSchemaDefinition>,
    /// The names of the fields that must be filled in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required: Option<Vec<String>>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ElicitationSchema {
    /// Adds a field; `required` says whether it must be filled in.
    pub fn with_property(
        mut self,
        name: impl Into<String>,
        schema: impl Into<PrimitiveSchemaDefinition>,
        required: bool,
    ) -> Self {
        let name = name.into();
        if required {
            self.required
                .get_or_insert_with(Vec::new)
                .push(name.clone());
        }
        self.properties.insert(name, schema.into());
        self
    }

    /// Sets the JSON Schema dialect (2025-11-25).
    #[must_use]
    pub fn with_schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = Some(schema.into());
        self
    }
}

/// Params of a form-mode `elicitation/create`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitRequestFormParams {
    /// `"form"`, or absent (form is the default, and the only mode before
    /// 2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mode: Option<ElicitMode>,
    /// Why the input is needed, for the user.
    pub message: String,
    /// The form.
    pub requested_schema: ElicitationSchema,
    /// Asks to run the request as a task (2025-11-25).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// Metadata (`_meta`), such as a progress token.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ElicitRequestFormParams {
    /// Asks the user to fill in a form (`mode` is left out, as every
    /// revision with elicitation accepts).
    pub fn new(message: impl Into<String>, requested_schema: ElicitationSchema) -> Self {
        ElicitRequestFormParams {
            message: message.into(),
            requested_schema,
            ..Default::default()
        }
    }

    /// Sets `mode` (2025-11-25; form mode is the default).
    #[must_use]
    pub fn with_mode(mut self, mode: ElicitMode) -> Self {
        self.mode = Some(mode);
        self
    }

    /// Asks to run the request as a task (2025-11-25).
    #[must_use]
    pub fn with_task(mut self, task: TaskMetadata) -> Self {
        self.task = Some(task);
        self
    }
}

/// Params of a URL-mode `elicitation/create` (2025-11-25).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitRequestUrlParams {
    /// Always [`ElicitMode::Url`].
    pub mode: ElicitMode,
    /// Why the user should open the page.
    pub message: String,
    /// The page to open.
    pub url: String,
    /// An id for this elicitation, unique within the server and opaque to
    /// the client; `notifications/elicitation/complete` names it.
    pub elicitation_id: String,
    /// Asks to run the request as a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<TaskMetadata>,
    /// Metadata (`_meta`), such as a progress token.
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ElicitRequestUrlParams {
    /// Asks the user to open `url`.
    pub fn new(
        message: impl Into<String>,
        url: impl Into<String>,
        elicitation_id: impl Into<String>,
    ) -> Self {
        ElicitRequestUrlParams {
            mode: ElicitMode::Url,
            message: message.into(),
            url: url.into(),
            elicitation_id: elicitation_id.into(),
            task: None,
            meta: None,
            extra: Map::new(),
        }
    }

    /// Asks to run the request as a task.
    #[must_use]
    pub fn with_task(mut self, task: TaskMetadata) -> Self {
        self.task = Some(task);
        self
    }
}

/// Params of `elicitation/create` (sent by the server): a form or a URL,
/// told apart by `mode`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ElicitRequestParams {
    /// Form mode: `mode` is `"form"` or absent.
    Form(ElicitRequestFormParams),
    /// URL mode: `mode` is `"url"` (2025-11-25).
    Url(ElicitRequestUrlParams),
}

impl<'de> Deserialize<'de> for ElicitRequestParams {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let value = Value::deserialize(d)?;
        match value.get("mode") {
            None | Some(Value::Null) => {
                serde_json::from_value(value).map(ElicitRequestParams::Form)
            }
            Some(Value::String(m)) if m == "form" => {
                serde_json::from_value(value).map(ElicitRequestParams::Form)
            }
            Some(Value::String(m)) if m == "url" => {
                serde_json::from_value(value).map(ElicitRequestParams::Url)
            }
            Some(other) => {
                return Err(D::Error::custom(format_args!(
                    "unknown elicitation mode {other} (expected \"form\" or \"url\")"
                )))
            }
        }
        .map_err(D::Error::custom)
    }
}

impl ElicitRequestParams {
    /// A form-mode elicitation (valid in every revision that has
    /// elicitation: `mode` is left out).
    pub fn form(message: impl Into<String>, requested_schema: ElicitationSchema) -> Self {
        ElicitRequestParams::Form(ElicitRequestFormParams::new(message, requested_schema))
    }

    /// A URL-mode elicitation (2025-11-25).
    pub fn url(
        message: impl Into<String>,
        url: impl Into<String>,
        elicitation_id: impl Into<String>,
    ) -> Self {
        ElicitRequestParams::Url(ElicitRequestUrlParams::new(message, url, elicitation_id))
    }

    /// The mode.
    pub fn mode(&self) -> ElicitMode {
        match self {
            ElicitRequestParams::Form(_) => ElicitMode::Form,
            ElicitRequestParams::Url(_) => ElicitMode::Url,
        }
    }

    /// The message for the user.
    pub fn message(&self) -> &str {
        match self {
            ElicitRequestParams::Form(p) => &p.message,
            ElicitRequestParams::Url(p) => &p.message,
        }
    }
}

impl super::HasMeta for ElicitRequestParams {
    fn meta(&self) -> &Option<Meta> {
        match self {
            ElicitRequestParams::Form(p) => &p.meta,
            ElicitRequestParams::Url(p) => &p.meta,
        }
    }

    fn meta_mut(&mut self) -> &mut Option<Meta> {
        match self {
            ElicitRequestParams::Form(p) => &mut p.meta,
            ElicitRequestParams::Url(p) => &mut p.meta,
        }
    }
}

/// What the user did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ElicitAction {
    /// Submitted the form (or, in URL mode, agreed to open the page).
    Accept,
    /// Explicitly declined.
    Decline,
    /// Dismissed without choosing.
    Cancel,
}

/// The result of `elicitation/create`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitResult {
    /// What the user did.
    pub action: ElicitAction,
    /// The submitted values, by field name, when the action is `accept` in
    /// form mode: strings, numbers, booleans or (2025-11-25) string arrays.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<JsonObject>,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ElicitResult {
    fn of_action(action: ElicitAction, content: Option<JsonObject>) -> Self {
        ElicitResult {
            action,
            content,
            meta: None,
            extra: Map::new(),
        }
    }

    /// The user submitted these values (form mode).
    pub fn accept(content: JsonObject) -> Self {
        Self::of_action(ElicitAction::Accept, Some(content))
    }

    /// The user agreed to open the page (URL mode).
    pub fn accept_url() -> Self {
        Self::of_action(ElicitAction::Accept, None)
    }

    /// The user declined.
    pub fn decline() -> Self {
        Self::of_action(ElicitAction::Decline, None)
    }

    /// The user dismissed the request.
    pub fn cancel() -> Self {
        Self::of_action(ElicitAction::Cancel, None)
    }
}

/// Params of `notifications/elicitation/complete` (2025-11-25): a URL-mode
/// elicitation finished out of band.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ElicitationCompleteNotificationParams {
    /// The id of the elicitation that finished.
    pub elicitation_id: String,
    /// Metadata (`_meta`).
    #[serde(rename = "_meta", default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<Meta>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl ElicitationCompleteNotificationParams {
    /// The elicitation `elicitation_id` finished.
    pub fn new(elicitation_id: impl Into<String>) -> Self {
        ElicitationCompleteNotificationParams {
            elicitation_id: elicitation_id.into(),
            ..Default::default()
        }
    }
}

/// The `data` of a -32042 error (2025-11-25): the request cannot go on until
/// the user completes these URL-mode elicitations.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct UrlElicitationRequiredData {
    /// The elicitations to complete.
    pub elicitations: Vec<ElicitRequestUrlParams>,
    /// Fields this version of the SDK does not know, kept as they came.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl UrlElicitationRequiredData {
    /// The data for these elicitations.
    pub fn new(elicitations: Vec<ElicitRequestUrlParams>) -> Self {
        UrlElicitationRequiredData {
            elicitations,
            extra: Map::new(),
        }
    }

    /// The data of `error`, if it is a -32042 error whose data has this
    /// shape.
    pub fn from_error(error: &Error) -> Option<Self> {
        if error.code != ErrorCode::URL_ELICITATION_REQUIRED {
            return None;
        }
        serde_json::from_value(error.data.clone()?).ok()
    }

    /// The -32042 error carrying this data.
    pub fn into_error(self, message: impl Into<String>) -> Error {
        let data = serde_json::to_value(&self).unwrap_or(Value::Null);
        Error::new(ErrorCode::URL_ELICITATION_REQUIRED, message).with_data(data)
    }
}

impl_with_extra!(
    StringSchema,
    NumberSchema,
    BooleanSchema,
    EnumOption,
    UntitledSingleSelectEnumSchema,
    TitledSingleSelectEnumSchema,
    UntitledEnumItems,
    TitledEnumItems,
    UntitledMultiSelectEnumSchema,
    TitledMultiSelectEnumSchema,
    LegacyTitledEnumSchema,
    ElicitationSchema,
    ElicitRequestFormParams,
    ElicitRequestUrlParams,
    ElicitResult,
    ElicitationCompleteNotificationParams,
    UrlElicitationRequiredData,
);

impl_has_meta!(
    ElicitRequestFormParams,
    ElicitRequestUrlParams,
    ElicitResult,
    ElicitationCompleteNotificationParams
);

impl_request! {
    ElicitRequestParams => ElicitResult, "elicitation/create";
}

impl_notification! {
    ElicitationCompleteNotificationParams, "notifications/elicitation/complete";
}
