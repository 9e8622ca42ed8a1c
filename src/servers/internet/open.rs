//! `open_in_browser`: a page the server cannot read for the user (behind
//! the user's own sign-in, a captcha, a payment) is opened by the user
//! instead, out of band, through URL-mode elicitation: the client shows the
//! link and asks before opening it, and the page's content never passes
//! through the client or the model.

use mcp_sdk::ElicitAction;
use mcp_sdk_server::RequestContext;
use reqwest::Url;
use schemars::JsonSchema;
use serde::Deserialize;

/// The longest reason shown to the user.
const MAX_REASON_CHARS: usize = 500;

/// Arguments of `open_in_browser`.
#[derive(Debug, Deserialize, JsonSchema)]
pub struct OpenArgs {
    /// The page to open (http or https).
    pub url: String,
    /// Why the user should open it, shown to them with the link.
    pub reason: String,
}

/// Asks the user to open `args.url` in their browser. A URL that is not
/// http(s), a reason too long, or a client that cannot show links (it did
/// not declare URL-mode elicitation) are tool errors the model can read.
pub async fn open_in_browser(args: OpenArgs, ctx: &RequestContext) -> Result<String, String> {
    let url = Url::parse(&args.url).map_err(|e| format!("{:?} is not a URL: {e}", args.url))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https pages can be opened, not {}:",
            url.scheme()
        ));
    }
    if args.reason.chars().count() > MAX_REASON_CHARS {
        return Err(format!(
            "the reason is over {MAX_REASON_CHARS} characters; say it shorter"
        ));
    }
    if !ctx.can_elicit_url() {
        return Err(format!(
            "this client cannot show links to its user (it did not declare URL-mode \
             elicitation); give the user the link yourself: {url}"
        ));
    }
    // One id per request: in the stateless era the handler runs again with
    // the answer, and asks the same question.
    let id = format!("open-{}", ctx.request_id());
    let answer = ctx
        .elicit_url(args.reason, url.as_str(), id)
        .await
        .map_err(|e| format!("the client could not show the link: {}", e.message))?;
    Ok(match answer.action {
        ElicitAction::Accept => format!(
            "The user agreed to open {url} in their browser; what they do there stays \
             between them and the site. Ask them if you need to know the outcome."
        ),
        ElicitAction::Decline => format!("The user declined to open {url}."),
        ElicitAction::Cancel => format!("The user dismissed the request to open {url}."),
    })
}
