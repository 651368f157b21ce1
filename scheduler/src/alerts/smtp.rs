//! Alerts as e-mail over SMTP: STARTTLS (required, not opportunistic) or TLS from the start,
//! an internal CA trusted from a PEM file, credentials from the environment.

use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::{ChannelConfig, Notice, SmtpSecurity, body, secret, subject};

/// Sends `notice` as a plain-text e-mail through the SMTP channel `channel`.
pub(super) async fn send(channel: &ChannelConfig, notice: &Notice) -> Result<(), String> {
    let ChannelConfig::Smtp {
        host,
        port,
        security,
        ca_file,
        username_env,
        password_env,
        from,
        to,
    } = channel
    else {
        unreachable!("only SMTP channels are sent here")
    };
    let tls = || -> Result<TlsParameters, String> {
        let mut tls = TlsParameters::builder(host.clone());
        if let Some(ca) = ca_file {
            let pem = std::fs::read(ca).map_err(|e| format!("{}: {e}", ca.display()))?;
            let cert = Certificate::from_pem(&pem)
                .map_err(|e| format!("{}: not a PEM certificate: {e}", ca.display()))?;
            tls = tls.add_root_certificate(cert);
        }
        tls.build_rustls()
            .map_err(|e| format!("TLS for {host}: {e}"))
    };
    let (security, default_port) = match security {
        SmtpSecurity::Starttls => (Tls::Required(tls()?), 587),
        SmtpSecurity::Tls => (Tls::Wrapper(tls()?), 465),
        SmtpSecurity::None => (Tls::None, 25),
    };
    let port = port.unwrap_or(default_port);
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.as_str())
        .port(port)
        .tls(security);
    match (username_env, password_env) {
        (Some(u), Some(p)) => {
            transport = transport.credentials(Credentials::new(secret(u)?, secret(p)?))
        }
        (None, None) => {}
        _ => {
            return Err(
                "an SMTP channel needs both `username_env` and `password_env`, or neither".into(),
            );
        }
    }
    let mut message = Message::builder()
        .from(from.parse().map_err(|e| format!("`from` {from}: {e}"))?)
        .subject(subject(notice))
        .header(ContentType::TEXT_PLAIN);
    for address in to {
        message = message.to(address
            .parse()
            .map_err(|e| format!("`to` {address}: {e}"))?);
    }
    let message = message
        .body(body(notice))
        .map_err(|e| format!("composing the e-mail: {e}"))?;
    transport
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| format!("SMTP {host}:{port}: {e}"))
}
