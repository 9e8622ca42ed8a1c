//! The shapes a router handler may take, in the manner of axum's handlers:
//! an async function of its input, with the router's [`State`] before it
//! and the [`RequestContext`] after it, each optional.
//!
//! One trait, [`Handler`], covers the four shapes for every kind of handler
//! (tools, prompts, resources, completions, subscriptions); the kind-specific
//! traits ([`ToolHandler`](super::ToolHandler) and the like) sit on top and
//! say what the input and output must be.

use crate::context::RequestContext;
use crate::peer::Peer;
use futures_util::future::BoxFuture;
use mcp_sdk::Error;
use std::future::Future;

/// The router's state, as a handler argument: `State(db): State<Db>` as the
/// first parameter of a handler registered on a `Router<Db>` (see
/// [`Router::with_state`](super::Router::with_state)). The router gives
/// each call a clone of the state, so keep it cheap to clone (an `Arc`).
#[derive(Debug, Clone, Copy, Default)]
pub struct State<S>(pub S);

/// Marks a handler that takes only its input.
#[derive(Debug)]
pub enum InputOnly {}
/// Marks a handler that takes its input and the request context.
#[derive(Debug)]
pub enum InputAndContext {}
/// Marks a handler that takes the state and its input.
#[derive(Debug)]
pub enum StateAndInput {}
/// Marks a handler that takes the state, its input and the request context.
#[derive(Debug)]
pub enum StateInputAndContext {}

/// An async function that answers one request: `Fn(In)`,
/// `Fn(In, RequestContext)`, `Fn(State<S>, In)` or
/// `Fn(State<S>, In, RequestContext)`, returning a future. `M` tells the
/// four shapes apart; it is inferred, never written.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a handler taking `{In}` on a router whose state is `{S}`",
    label = "not a handler of this shape",
    note = "a handler is an async closure or `async fn` whose parameters are, in this order: `State<{S}>` (optional), the input `{In}`, and `RequestContext` (optional); name their types in a closure",
    note = "a handler that takes `State<T>` works only on a `Router<T>`: give the router that state with `Router::with_state`"
)]
pub trait Handler<M, S, In>: Send + Sync + 'static {
    /// What the handler's future gives.
    type Output: Send + 'static;

    /// Runs the handler.
    fn call(&self, state: &S, input: In, ctx: RequestContext) -> BoxFuture<'static, Self::Output>;

    /// Runs the handler and maps what it gives with `then`, in one boxed
    /// future: [`call`](Self::call) and a map after it would box twice on
    /// every request.
    #[doc(hidden)]
    fn call_then<T, F>(
        &self,
        state: &S,
        input: In,
        ctx: RequestContext,
        then: F,
    ) -> BoxFuture<'static, T>
    where
        Self: Sized,
        F: FnOnce(Self::Output) -> T + Send + 'static,
    {
        let fut = self.call(state, input, ctx);
        Box::pin(async move { then(fut.await) })
    }
}

impl<F, Fut, S, In> Handler<InputOnly, S, In> for F
where
    F: Fn(In) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Output = Fut::Output;
    fn call(&self, _: &S, input: In, _: RequestContext) -> BoxFuture<'static, Fut::Output> {
        Box::pin(self(input))
    }
    fn call_then<T, G>(&self, _: &S, input: In, _: RequestContext, then: G) -> BoxFuture<'static, T>
    where
        G: FnOnce(Fut::Output) -> T + Send + 'static,
    {
        let fut = self(input);
        Box::pin(async move { then(fut.await) })
    }
}

impl<F, Fut, S, In> Handler<InputAndContext, S, In> for F
where
    F: Fn(In, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Output = Fut::Output;
    fn call(&self, _: &S, input: In, ctx: RequestContext) -> BoxFuture<'static, Fut::Output> {
        Box::pin(self(input, ctx))
    }
    fn call_then<T, G>(
        &self,
        _: &S,
        input: In,
        ctx: RequestContext,
        then: G,
    ) -> BoxFuture<'static, T>
    where
        G: FnOnce(Fut::Output) -> T + Send + 'static,
    {
        let fut = self(input, ctx);
        Box::pin(async move { then(fut.await) })
    }
}

impl<F, Fut, S, In> Handler<StateAndInput, S, In> for F
where
    F: Fn(State<S>, In) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    S: Clone,
{
    type Output = Fut::Output;
    fn call(&self, state: &S, input: In, _: RequestContext) -> BoxFuture<'static, Fut::Output> {
        Box::pin(self(State(state.clone()), input))
    }
    fn call_then<T, G>(
        &self,
        state: &S,
        input: In,
        _: RequestContext,
        then: G,
    ) -> BoxFuture<'static, T>
    where
        G: FnOnce(Fut::Output) -> T + Send + 'static,
    {
        let fut = self(State(state.clone()), input);
        Box::pin(async move { then(fut.await) })
    }
}

impl<F, Fut, S, In> Handler<StateInputAndContext, S, In> for F
where
    F: Fn(State<S>, In, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    S: Clone,
{
    type Output = Fut::Output;
    fn call(&self, state: &S, input: In, ctx: RequestContext) -> BoxFuture<'static, Fut::Output> {
        Box::pin(self(State(state.clone()), input, ctx))
    }
    fn call_then<T, G>(
        &self,
        state: &S,
        input: In,
        ctx: RequestContext,
        then: G,
    ) -> BoxFuture<'static, T>
    where
        G: FnOnce(Fut::Output) -> T + Send + 'static,
    {
        let fut = self(State(state.clone()), input, ctx);
        Box::pin(async move { then(fut.await) })
    }
}

/// What a prompt, resource, completion or subscription handler may return
/// for an answer of type `T`: `T` itself, or `Result<T, Error>` (the error
/// goes to the client as a JSON-RPC error).
#[diagnostic::on_unimplemented(
    message = "a handler that answers with `{T}` cannot return `{Self}`",
    note = "return `{T}` or `Result<{T}, mcp_sdk::Error>`"
)]
pub trait IntoAnswer<T> {
    /// The answer, or the error to send instead.
    fn into_answer(self) -> Result<T, Error>;
}

impl<T> IntoAnswer<T> for T {
    fn into_answer(self) -> Result<T, Error> {
        Ok(self)
    }
}

impl<T> IntoAnswer<T> for Result<T, Error> {
    fn into_answer(self) -> Result<T, Error> {
        self
    }
}

/// Completion values as a plain list: at most the first 100 are sent, with
/// `total` and `hasMore` saying how many there were.
impl IntoAnswer<mcp_sdk::CompleteResult> for Vec<String> {
    fn into_answer(self) -> Result<mcp_sdk::CompleteResult, Error> {
        Ok(mcp_sdk::CompleteResult::new(self))
    }
}

/// Marks a hook that takes only the peer.
#[derive(Debug)]
pub enum PeerOnly {}
/// Marks a hook that takes the state and the peer.
#[derive(Debug)]
pub enum StateAndPeer {}

/// A hook on a session event (see [`Router::on_initialized`](super::Router::on_initialized)
/// and its siblings): `Fn(Peer)` or `Fn(State<S>, Peer)`, returning a
/// future of `()`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a session hook on a router whose state is `{S}`",
    label = "not a hook",
    note = "a hook is an async closure or `async fn` taking `Peer`, or `State<{S}>` and `Peer`, and returning `()`"
)]
pub trait Hook<M, S>: Send + Sync + 'static {
    /// Runs the hook.
    fn call(&self, state: &S, peer: Peer) -> BoxFuture<'static, ()>;
}

impl<F, Fut, S> Hook<PeerOnly, S> for F
where
    F: Fn(Peer) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    fn call(&self, _: &S, peer: Peer) -> BoxFuture<'static, ()> {
        Box::pin(self(peer))
    }
}

impl<F, Fut, S> Hook<StateAndPeer, S> for F
where
    F: Fn(State<S>, Peer) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
    S: Clone,
{
    fn call(&self, state: &S, peer: Peer) -> BoxFuture<'static, ()> {
        Box::pin(self(State(state.clone()), peer))
    }
}

/// Marks a lister that takes the request context.
#[derive(Debug)]
pub enum ContextOnly {}
/// Marks a lister that takes the state.
#[derive(Debug)]
pub enum StateOnly {}
/// Marks a lister that takes the state and the request context.
#[derive(Debug)]
pub enum StateAndContext {}

/// A handler with no input of its own (a resource lister, see
/// [`Router::resource_lister`](super::Router::resource_lister)):
/// `Fn(RequestContext)`, `Fn(State<S>)` or `Fn(State<S>, RequestContext)`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a lister on a router whose state is `{S}`",
    label = "not a lister",
    note = "a lister is an async closure or `async fn` taking `RequestContext`, `State<{S}>`, or `State<{S}>` and `RequestContext`"
)]
pub trait Lister<M, S>: Send + Sync + 'static {
    /// What the lister's future gives.
    type Output: Send + 'static;

    /// Runs the lister.
    fn call(&self, state: &S, ctx: RequestContext) -> BoxFuture<'static, Self::Output>;
}

impl<F, Fut, S> Lister<ContextOnly, S> for F
where
    F: Fn(RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    type Output = Fut::Output;
    fn call(&self, _: &S, ctx: RequestContext) -> BoxFuture<'static, Fut::Output> {
        Box::pin(self(ctx))
    }
}

impl<F, Fut, S> Lister<StateOnly, S> for F
where
    F: Fn(State<S>) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    S: Clone,
{
    type Output = Fut::Output;
    fn call(&self, state: &S, _: RequestContext) -> BoxFuture<'static, Fut::Output> {
        Box::pin(self(State(state.clone())))
    }
}

impl<F, Fut, S> Lister<StateAndContext, S> for F
where
    F: Fn(State<S>, RequestContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
    S: Clone,
{
    type Output = Fut::Output;
    fn call(&self, state: &S, ctx: RequestContext) -> BoxFuture<'static, Fut::Output> {
        Box::pin(self(State(state.clone()), ctx))
    }
}
