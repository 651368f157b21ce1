//! The page, the sign-in form and the security headers.

use axum::Form;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use serde::Deserialize;

use crate::AppState;
use crate::auth::{COOKIE, check_token, session_value};

const INDEX: &str = include_str!("assets/index.html");
const LOGIN: &str = include_str!("assets/login.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers to every response.
pub(crate) async fn security_headers(req: Request, next: Next) -> Response {
    let mut r = next.run(req).await;
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        "cross-origin-opener-policy",
        HeaderValue::from_static("same-origin"),
    );
    h.insert(
        "permissions-policy",
        HeaderValue::from_static("camera=(), microphone=(), geolocation=()"),
    );
    r
}

fn no_store<T: IntoResponse>(body: T) -> Response {
    let mut r = body.into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// `GET /`: the desktop.
pub(crate) async fn index() -> Response {
    no_store(Html(INDEX))
}

fn login_html(message: &str) -> Html<String> {
    Html(LOGIN.replace("<!--MESSAGE-->", message))
}

/// `GET /login`
pub(crate) async fn login_page() -> Response {
    no_store(login_html(""))
}

#[derive(Deserialize)]
pub(crate) struct LoginForm {
    token: String,
}

/// `POST /login`: checks the token and sets the signed session cookie.
pub(crate) async fn login(
    State(state): State<AppState>,
    extensions: axum::http::Extensions,
    form: Result<Form<LoginForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let client = crate::limit::client_of(&extensions);
    if let Some(wait) = state.sign_ins().wait(client, std::time::Instant::now()) {
        return no_store(crate::limit::too_many(wait));
    }
    let Ok(Form(form)) = form else {
        return no_store((
            StatusCode::BAD_REQUEST,
            login_html(
                "<p class=\"login-error\" role=\"alert\">Lomake oli puutteellinen. / The form was incomplete.</p>",
            ),
        ));
    };
    match check_token(&state, form.token.trim()) {
        Some(t) => {
            tracing::info!(principal = %t.name, "signed in");
            let mut cookie = format!(
                "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
                session_value(&state, &t),
                state.config().session_ttl().as_secs()
            );
            if state.config().secure_cookie {
                cookie.push_str("; Secure");
            }
            let mut r = Redirect::to("/").into_response();
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            no_store(r)
        }
        None => {
            state.sign_ins().failed(client, std::time::Instant::now());
            tracing::warn!(%client, "sign-in with an unknown token");
            no_store((
                StatusCode::UNAUTHORIZED,
                login_html(
                    "<p class=\"login-error\" role=\"alert\">Tunnus ei kelpaa. / The token is not valid.</p>",
                ),
            ))
        }
    }
}

/// `POST /logout`: clears the session cookie.
pub(crate) async fn logout() -> Response {
    let mut r = Redirect::to("/login").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("tk_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    no_store(r)
}

/// `GET /assets/app.js`
pub(crate) async fn app_js() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        APP_JS,
    )
        .into_response()
}

/// `GET /assets/app.css`
pub(crate) async fn app_css() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        APP_CSS,
    )
        .into_response()
}
