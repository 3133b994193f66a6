//! Server-rendered pages in the binary: the admin dashboard and the end-user pages (checkout).
//! One small stylesheet, a few small scripts of our own, nothing fetched from elsewhere.

pub mod checkout;
pub mod dashboard;
pub mod handler;

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::{Markup, DOCTYPE};

pub(crate) const STYLE: &str = "
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;background:#f5f6f8;color:#14161a}
header{display:flex;align-items:center;justify-content:space-between;padding:12px 24px;background:#14161a;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}main{max-width:880px;margin:32px auto;padding:0 20px}
.card{background:#fff;border:1px solid #e3e5e9;border-radius:10px;padding:22px;margin-bottom:20px;overflow-wrap:anywhere}
h1{font-size:22px;margin:0 0 16px}h2{font-size:17px;margin:0 0 12px}label{display:block;font-size:13px;margin:12px 0 4px;color:#4a4f57}
input[type=text],input[type=email],input[type=password],input[type=url]{width:100%;padding:9px 11px;border:1px solid #cfd3d9;border-radius:7px;font-size:14px}
button{margin-top:14px;padding:9px 16px;border:0;border-radius:7px;background:#2b59ff;color:#fff;font-size:14px;cursor:pointer}
button.link{background:none;color:#fff;padding:0;margin:0}.error{background:#fdecec;color:#a11;border-radius:7px;padding:9px 12px;margin-bottom:12px}
.keys{background:#fff8e1;border:1px solid #f2d27a}code{background:#f0f1f4;padding:2px 6px;border-radius:4px;word-break:break-all}
table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:9px 6px;border-bottom:1px solid #eceef1;font-size:14px}
form.inline{display:inline}button.danger{background:#c62828;margin:0;padding:5px 10px;font-size:13px}
details.checkout{display:inline-block;margin:4px 8px 4px 0}details.checkout summary{cursor:pointer;color:#2b59ff;font-size:14px}
details.checkout[open]{display:block;background:#f7f8fb;border:1px solid #e3e5e9;border-radius:8px;padding:4px 12px 12px}
select{padding:8px;border:1px solid #cfd3d9;border-radius:7px;font-size:14px;background:#fff}
button.secondary{width:100%;background:#fff;color:#14161a;border:1px solid #cfd3d9;margin-top:8px}
.separator{display:flex;align-items:center;gap:10px;color:#6b717b;font-size:13px;margin:18px 0 0}.separator:before,.separator:after{content:'';flex:1;border-top:1px solid #e3e5e9}
h2.section{margin-top:28px}button.small{margin:0;padding:5px 10px;font-size:13px;background:#eef1ff;color:#2b3fa8}
ul.rows{list-style:none;padding:0;margin:0}ul.rows li{display:flex;flex-wrap:wrap;gap:6px 10px;align-items:center;padding:10px 0;border-bottom:1px solid #eceef1}
ul.rows .value{font-weight:600;overflow-wrap:anywhere;min-width:0}ul.rows .actions{display:flex;flex-wrap:wrap;gap:6px;width:100%}
.tag{font-size:12px;padding:2px 7px;border-radius:10px;background:#f0f1f4;color:#4a4f57;margin-right:4px}.tag.ok{background:#e8f5e9;color:#1b5e20}.tag.warn{background:#fff4e0;color:#8a5300}
.qr svg{display:block;width:200px;height:200px;margin:8px 0}form.switch{display:inline-block;margin:8px 8px 0 0}.card-field{padding:10px;border:1px solid #cfd3d9;border-radius:7px;margin-bottom:12px;background:#fff}img.avatar{width:72px;height:72px;border-radius:50%;object-fit:cover;display:block}
nav.project{display:flex;flex-wrap:wrap;gap:6px 16px;align-items:baseline;margin:-12px 0 18px;font-size:14px}nav.project strong{margin-right:4px;overflow-wrap:anywhere}
nav.project a{color:#2b59ff;text-decoration:none;padding:3px 0}nav.project a[aria-current]{color:#14161a;font-weight:600;border-bottom:2px solid #2b59ff}
.narrow{max-width:420px;margin:64px auto}.notice{background:#e8f5e9;color:#1b5e20;border-radius:7px;padding:9px 12px}.muted{color:#6b717b;font-size:13px}
/* The dashboard's shared pieces (`dashboard::project`): tables that scroll in their card, long
   values cut with an ellipsis beside a copy button, the quick-start panel, wrapping form rows. */
.scroll{overflow-x:auto;max-width:100%}.scroll table{min-width:100%}.scroll table.wide{min-width:600px}
.scroll td,.scroll th{overflow-wrap:normal}.scroll code{word-break:normal;white-space:nowrap}.scroll button,.scroll select{white-space:nowrap}
.quick-start p code,ol.steps code{word-break:normal;white-space:nowrap}
.banner{background:#fff4e0;color:#8a5300;border-radius:7px;padding:9px 12px;margin:0 0 12px}
.qs-field{margin:0 0 10px}.qs-label{display:block;font-size:13px;color:#4a4f57;margin-bottom:3px}
.qs-row{display:flex;align-items:center;gap:8px;min-width:0}
.qs-row code{flex:1 1 auto;min-width:0;display:block;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;word-break:normal;padding:6px 8px}
td .qs-row code{max-width:calc(100vw - 260px)}
button.copy{flex:none;margin:0;padding:6px 12px;font-size:13px;background:#eef1ff;color:#2b3fa8}
button.copy[data-copied=yes]{background:#e8f5e9;color:#1b5e20}
.block-head{display:flex;justify-content:space-between;align-items:center;gap:8px;margin:18px 0 6px}.block-head h3{margin:0;font-size:15px}
pre.block{background:#14161a;color:#e8eaf0;padding:12px;border-radius:7px;overflow-x:auto;font-size:13px;margin:0;max-width:100%;white-space:pre}
ol.steps{padding-left:20px;margin:6px 0}ol.steps li{margin:4px 0}
form.row{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end}form.row input{flex:1 1 180px;width:auto}form.row button{margin:0}
";

/// The pages load nothing from elsewhere and run only our own scripts (the copy buttons); styles
/// are inline (one stylesheet in the page, a few attributes). `form-action` keeps the
/// dashboard's forms on this server.
const DASHBOARD_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
/// An app's end-user pages: as the dashboard's, except that a form may end in a redirect to the
/// app (signing in hands the session to the app's own domain), so `form-action` stays open; and
/// the project's logo may be on any HTTPS host; the passkey script (ours) asks this server only.
const HANDLER_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: https:; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'";
/// The checkout's purchase form redirects to the app's return URL, so `form-action` stays open;
/// it runs our script and Stripe.js, which talks to Stripe's API and frames (Stripe's CSP advice,
/// <https://docs.stripe.com/security/guide#content-security-policy>).
fn checkout_csp() -> &'static HeaderValue {
    static CSP: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    CSP.get_or_init(|| {
        use crate::payments::stripe::{api_base, js_url, origin_of};
        let js = origin_of(&js_url());
        let api = origin_of(&api_base());
        let csp = format!(
            "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data: {js}; script-src 'self' {js}; \
             connect-src 'self' {api} {js}; frame-src {js} https://hooks.stripe.com; frame-ancestors 'none'; base-uri 'none'"
        );
        HeaderValue::from_str(&csp).unwrap_or_else(|_| HeaderValue::from_static(DASHBOARD_CSP))
    })
}

/// Headers of every page: its Content-Security-Policy, and `no-store` (pages show per-admin data
/// and keys shown once, which must not stay in a cache).
pub async fn page_headers(req: Request, next: Next) -> Response {
    let path = req.uri().path();
    // The checkout and the billing page's card change run Stripe.js.
    let csp = if path.starts_with("/purchase/")
        || (path.starts_with("/handler/") && path.ends_with("/billing/card"))
    {
        checkout_csp().clone()
    } else if path.starts_with("/handler/") {
        HeaderValue::from_static(HANDLER_CSP)
    } else {
        HeaderValue::from_static(DASHBOARD_CSP)
    };
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("content-security-policy", csp);
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    res
}

/// The value of the request's cookie `name`, if it sent one.
pub(crate) fn cookie(headers: &axum::http::HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value.to_string())
}

/// `; Secure` for cookies when the server is reached over HTTPS.
pub(crate) fn secure_attribute(state: &crate::kernel::Kernel) -> &'static str {
    if state.public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

/// The page every built-in page sits in: the header bar's content, then the main column.
pub(crate) fn shell(title: &str, header: Markup, body: Markup) -> Markup {
    themed_shell(title, "", header, body)
}

/// [`shell`] with more style after the common one (a project's theme on its hosted pages).
pub(crate) fn themed_shell(title: &str, theme: &str, header: Markup, body: Markup) -> Markup {
    maud::html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Portcullis" }
                // Inline, so browsers ask for no /favicon.ico (which would be a 404).
                link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect width='16' height='16' rx='3' fill='%2314161a'/%3E%3Cpath d='M4 3v10M8 3v10M12 3v10M3 6h10M3 10h10' stroke='%23fff' stroke-width='1.5'/%3E%3C/svg%3E";
                style { (maud::PreEscaped(STYLE)) (maud::PreEscaped(theme)) }
            }
            body {
                header { (header) }
                main { (body) }
            }
        }
    }
}

/// A form's error message, announced to screen readers.
pub(crate) fn error(message: Option<&str>) -> Markup {
    maud::html! { @if let Some(m) = message { p.error role="alert" { (m) } } }
}

pub(crate) fn html(markup: Markup) -> Response {
    Html(markup.into_string()).into_response()
}
