//! A request's exchange with the server: in the stateless era, the
//! rounds of input requests, the `Mcp-Param` headers and the result cache.

use super::serve::require;
use super::{decode_result, lock, Client, MAX_PAGES};
use crate::handler::{apply_elicitation_defaults, RequestContext};
use crate::headers::header_params;
use crate::request::{RequestOptions, Responder};
use crate::stateless::{result_type, Cache, INPUT_METHODS, MAX_INPUT_ROUNDS};
use crate::ClientError;
use mcp_sdk::{
    CallToolParams, Error, ErrorCode, InputRequest, InputRequiredResult, InputResponse,
    InputResponses, JsonObject, ListToolsParams, RequestId, RequestParams, ResultType,
};
use serde_json::Value;

impl Client {
    /// Sends a request and gives its final result. In the stateless era,
    /// that is: a fresh cached result if there is one; otherwise the request
    /// with `_meta` and its headers, answering input requests and retrying
    /// while the server needs input, and, when the server says the
    /// `Mcp-Param` headers of a `tools/call` do not match, once more after
    /// reading `tools/list` again.
    pub(crate) async fn exchange(
        &self,
        method: &str,
        params: Value,
        options: RequestOptions,
    ) -> Result<Value, ClientError> {
        let core = &self.inner.core;
        if !self.inner.stateless {
            return core.call(method, params, options, Vec::new()).await;
        }
        // A call declaring other capabilities may get another answer.
        let key = if core.caching && !options.overrides_handler() {
            Cache::key(method, &params)
        } else {
            None
        };
        if let Some(key) = &key {
            if let Some(hit) = lock(&core.cache).get(key) {
                return Ok(hit);
            }
        }
        let mut refreshed = false;
        let (mut value, retried) = loop {
            match self.rounds(method, &params, &options).await {
                Err(ClientError::Server(e))
                    if e.code == ErrorCode::HEADER_MISMATCH
                        && method == CallToolParams::METHOD
                        && core.transport.mirrors_headers()
                        && !refreshed =>
                {
                    tracing::debug!(
                        "the server says the headers do not match: {e}; reading tools/list again"
                    );
                    refreshed = true;
                    lock(&core.cache).forget_method(ListToolsParams::METHOD);
                    self.refresh_tool_headers().await?;
                }
                other => break other?,
            }
        };
        if method == ListToolsParams::METHOD {
            self.screen_tools(&mut value);
        }
        if let (Some(key), false) = (key, retried) {
            lock(&core.cache).put(key, &value);
        }
        Ok(value)
    }

    /// One request, retried with `inputResponses` and `requestState` while
    /// the server answers with an `InputRequiredResult` (at most
    /// [`MAX_INPUT_ROUNDS`] times), and once when its response stream broke.
    /// Also says whether the result came from a retry.
    pub(super) async fn rounds(
        &self,
        method: &str,
        params: &Value,
        options: &RequestOptions,
    ) -> Result<(Value, bool), ClientError> {
        let core = &self.inner.core;
        let responder = Responder::of(options, &core.handler);
        let mut input: Option<(Option<InputResponses>, Option<String>)> = None;
        let mut rounds = 0;
        let mut reissued = false;
        loop {
            let mut params = params.clone();
            if let Some((responses, state)) = &input {
                if params.is_null() {
                    params = Value::Object(JsonObject::new());
                }
                if let Value::Object(map) = &mut params {
                    if let Some(responses) = responses {
                        let responses = serde_json::to_value(responses)
                            .map_err(|e| ClientError::Protocol(e.to_string()))?;
                        map.insert("inputResponses".into(), responses);
                    }
                    if let Some(state) = state {
                        map.insert("requestState".into(), Value::String(state.clone()));
                    }
                }
            }
            let headers = self.param_headers(method, &params);
            let value = match core.call(method, params, options.clone(), headers).await {
                Err(ClientError::StreamLost(why)) if !reissued => {
                    // The request is lost with its stream; send it again,
                    // under a new id, as 2026-07-28 asks.
                    tracing::debug!(%method, "the response stream broke ({why}); sending the request again");
                    reissued = true;
                    continue;
                }
                other => other?,
            };
            match result_type(method, &value)? {
                ResultType::Complete => return Ok((value, input.is_some())),
                // Only for a client that declared the tasks extension; the
                // caller follows the task (`tasks/get`).
                ResultType::Task if method == CallToolParams::METHOD => {
                    return Ok((value, input.is_some()))
                }
                ResultType::Task => {
                    return Err(ClientError::Protocol(format!(
                        "the server answered {method} with a task, which only tools/call may"
                    )))
                }
                ResultType::InputRequired if INPUT_METHODS.contains(&method) => {}
                ResultType::InputRequired => {
                    return Err(ClientError::Protocol(format!(
                        "the server answered {method} with an InputRequiredResult, which only {} may have",
                        INPUT_METHODS.join(", ")
                    )))
                }
                ResultType::Other(other) => {
                    return Err(ClientError::Protocol(format!(
                        "the server answered {method} with resultType {other:?}, which this client does not know"
                    )))
                }
            }
            rounds += 1;
            if rounds > MAX_INPUT_ROUNDS {
                return Err(ClientError::Protocol(format!(
                    "the server still needed input after {MAX_INPUT_ROUNDS} rounds of {method}; giving up"
                )));
            }
            let asked: InputRequiredResult = decode_result(method, value)?;
            if asked.input_requests.is_none() && asked.request_state.is_none() {
                return Err(ClientError::Protocol(format!(
                    "the server answered {method} with an InputRequiredResult that has neither inputRequests nor requestState"
                )));
            }
            let responses = match asked.input_requests {
                Some(requests) => {
                    let mut responses = InputResponses::new();
                    for (key, request) in requests {
                        let response = self
                            .answer_input(method, &key, request, options, responder.as_ref())
                            .await?;
                        responses.insert(key, response);
                    }
                    Some(responses)
                }
                None => None,
            };
            input = Some((responses, asked.request_state));
        }
    }

    /// Answers one input request with the handler (the call's own, when it
    /// has one), as a request from a session-era server would be: refused
    /// when the capability is not declared, elicitation defaults filled in.
    pub(crate) async fn answer_input(
        &self,
        method: &str,
        key: &str,
        request: InputRequest,
        options: &RequestOptions,
        responder: Option<&Responder>,
    ) -> Result<InputResponse, ClientError> {
        let core = &self.inner.core;
        let (handler, caps) = core.answering(responder);
        let cancel = options.cancellation.clone().unwrap_or_default();
        let cx = RequestContext {
            id: RequestId::String(key.to_owned()),
            cancellation: cancel.child_token(),
        };
        let asked = request.method();
        let answer = async {
            match request {
                InputRequest::CreateMessage(params) => {
                    require(caps.sampling.is_some(), "sampling", asked)?;
                    let result = handler.create_message(params, cx).await?;
                    Ok(InputResponse::CreateMessage(Box::new(result)))
                }
                InputRequest::ListRoots(_) => {
                    require(caps.roots.is_some(), "roots", asked)?;
                    Ok(InputResponse::ListRoots(handler.list_roots(cx).await?))
                }
                InputRequest::Elicit(params) => {
                    require(caps.elicitation.is_some(), "elicitation", asked)?;
                    let mut result = handler.elicit(params.clone(), cx).await?;
                    apply_elicitation_defaults(&params, &mut result);
                    Ok(InputResponse::Elicit(result))
                }
            }
        };
        tokio::select! {
            answer = answer => answer.map_err(|error: Error| ClientError::InputRequest {
                key: key.to_owned(),
                method: asked.to_owned(),
                error,
            }),
            _ = cancel.cancelled() => Err(ClientError::Cancelled { method: method.to_owned() }),
        }
    }

    /// The `Mcp-Param-{Name}` headers of a `tools/call`, from the
    /// `x-mcp-header` annotations of the tool as `tools/list` described it.
    pub(super) fn param_headers(&self, method: &str, params: &Value) -> Vec<(String, String)> {
        let core = &self.inner.core;
        if method != CallToolParams::METHOD || !core.transport.mirrors_headers() {
            return Vec::new();
        }
        let Some(name) = params.get("name").and_then(Value::as_str) else {
            return Vec::new();
        };
        let empty = JsonObject::new();
        let arguments = params
            .get("arguments")
            .and_then(Value::as_object)
            .unwrap_or(&empty);
        let tool_headers = lock(&core.tool_headers);
        let Some(annotated) = tool_headers.get(name) else {
            return Vec::new();
        };
        annotated
            .iter()
            .filter_map(|p| Some((p.header_name(), p.value(arguments)?)))
            .collect()
    }

    /// Drops, from a `tools/list` result, the tools whose `x-mcp-header`
    /// annotations are invalid (with a warning), and remembers the
    /// annotations of the rest (Streamable HTTP only).
    pub(super) fn screen_tools(&self, value: &mut Value) {
        let core = &self.inner.core;
        if !core.transport.mirrors_headers() {
            return;
        }
        let Some(tools) = value.get_mut("tools").and_then(Value::as_array_mut) else {
            return;
        };
        let mut tool_headers = lock(&core.tool_headers);
        tools.retain(|tool| {
            let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
            let annotated = match tool.get("inputSchema").and_then(Value::as_object) {
                Some(schema) => header_params(schema),
                None => Ok(Vec::new()),
            };
            match annotated {
                Ok(annotated) if annotated.is_empty() => {
                    tool_headers.remove(name);
                    true
                }
                Ok(annotated) => {
                    tool_headers.insert(name.to_owned(), annotated);
                    true
                }
                Err(why) => {
                    tracing::warn!(
                        tool = name,
                        "dropped a tool whose x-mcp-header annotations are invalid: {why}"
                    );
                    tool_headers.remove(name);
                    false
                }
            }
        });
    }

    /// Reads every page of `tools/list` again, for the `x-mcp-header`
    /// annotations.
    pub(super) async fn refresh_tool_headers(&self) -> Result<(), ClientError> {
        let mut cursor = None;
        for _ in 0..MAX_PAGES {
            let params = serde_json::to_value(ListToolsParams::page(cursor))
                .map_err(|e| ClientError::Protocol(e.to_string()))?;
            let (mut page, _) = self
                .rounds(ListToolsParams::METHOD, &params, &RequestOptions::default())
                .await?;
            self.screen_tools(&mut page);
            cursor = page
                .get("nextCursor")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if cursor.is_none() {
                return Ok(());
            }
        }
        Ok(())
    }
}
