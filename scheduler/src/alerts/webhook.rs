//! Alerts as HTTP POSTs: a generic JSON body, and the shapes Microsoft Teams and Slack
//! incoming webhooks take.

use serde_json::{Value, json};

use super::{AlertStatus, Notice, body, secret, subject};

/// The generic body: the notice as data, for a receiver of one's own.
pub(super) fn generic(notice: &Notice) -> Value {
    json!({
        "status": notice.status.as_str(),
        "rule": notice.alert.rule,
        "condition": notice.alert.condition.as_str(),
        "key": notice.alert.key,
        "summary": notice.alert.summary,
        "details": notice.alert.details,
        "since": notice.since,
        "at": notice.at,
        "subject": subject(notice),
        "text": body(notice),
    })
}

/// A Teams message with an Adaptive Card, as a Workflows webhook posts it to a channel.
pub(super) fn teams(notice: &Notice) -> Value {
    let colour = match notice.status {
        AlertStatus::Firing => "Attention",
        AlertStatus::Resolved => "Good",
    };
    json!({
        "type": "message",
        "attachments": [{
            "contentType": "application/vnd.microsoft.card.adaptive",
            "contentUrl": null,
            "content": {
                "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
                "type": "AdaptiveCard",
                "version": "1.4",
                "body": [
                    {"type": "TextBlock", "size": "Medium", "weight": "Bolder",
                     "color": colour, "wrap": true, "text": subject(notice)},
                    {"type": "TextBlock", "wrap": true, "text": notice.alert.details},
                    {"type": "FactSet", "facts": [
                        {"title": "Rule", "value": notice.alert.rule},
                        {"title": "Alert", "value": notice.alert.key},
                        {"title": "Since", "value": notice.since.format("%Y-%m-%d %H:%M UTC").to_string()},
                    ]},
                ],
            },
        }],
    })
}

/// A Slack message: `text` for notifications, a block for the channel.
pub(super) fn slack(notice: &Notice) -> Value {
    json!({
        "text": subject(notice),
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{}*", subject(notice))}},
            {"type": "section", "text": {"type": "plain_text", "text": body(notice)}},
        ],
    })
}

/// POSTs `body` to the URL in the environment variable `url_env`; any 2xx answer is taken.
pub(super) async fn post(
    http: &reqwest::Client,
    url_env: &str,
    body: &Value,
) -> Result<(), String> {
    let url = secret(url_env)?;
    let answer = http
        .post(&url)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("POST to the address in {url_env}: {e}"))?;
    let status = answer.status();
    if status.is_success() {
        return Ok(());
    }
    let text = answer.text().await.unwrap_or_default();
    let text: String = text.chars().take(200).collect();
    Err(format!(
        "POST to the address in {url_env}: HTTP {status}: {text}"
    ))
}
