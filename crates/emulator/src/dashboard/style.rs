//! The dashboard's style sheet, served from the emulator itself so the page's CSP can
//! say `style-src 'self'` (no inline style, no script).

use axum::http::header;
use axum::response::{IntoResponse, Response};

const CSS: &str = r#"
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f3f4f6;color:#1b1b1b}
header{background:#0b3d6e;color:#fff;padding:12px 20px;display:flex;flex-wrap:wrap;gap:8px 16px;align-items:center;justify-content:space-between}
header h1{font-size:18px;margin:0;font-weight:600}header .sub{font-size:13px;opacity:.85;overflow-wrap:anywhere}
header form{margin:0}
main{max-width:1200px;margin:0 auto;padding:16px;display:grid;gap:16px;grid-template-columns:minmax(0,1fr)}
@media (min-width:960px){main{grid-template-columns:minmax(0,1fr) minmax(0,1fr)}.wide{grid-column:1/-1}}
section{background:#fff;border-radius:6px;box-shadow:0 1px 3px rgba(0,0,0,.15);padding:14px 16px;min-width:0}
h2{font-size:16px;margin:0 0 10px}h3{font-size:14px;margin:14px 0 6px;color:#374151}
.scroll{overflow-x:auto;max-width:100%}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:5px 6px;border-bottom:1px solid #e5e7eb;vertical-align:top}
th{background:#f9fafb;font-weight:600;white-space:nowrap}
code{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere;word-break:break-word}
.muted{color:#6b7280;font-size:13px}.flash{background:#ecfdf5;border:1px solid #10b981;padding:8px 12px;border-radius:4px}
.flash.bad{background:#fef2f2;border-color:#ef4444}
.tag{display:inline-block;padding:1px 6px;border-radius:9px;font-size:12px;background:#e5e7eb}
.tag.signing,.tag.success{background:#d1fae5}.tag.announced{background:#dbeafe}.tag.retired{background:#f3f4f6;color:#6b7280}
.tag.fail{background:#fee2e2}
form.inline{display:flex;flex-wrap:wrap;gap:8px;align-items:flex-end;margin:8px 0}
label{display:flex;flex-direction:column;font-size:12px;color:#374151;gap:2px}
input,select{font-size:14px;padding:5px 6px;border:1px solid #9ca3af;border-radius:4px;max-width:100%}
input[type=number]{width:90px}
button{font-size:14px;padding:7px 14px;border:0;border-radius:4px;cursor:pointer;background:#0067b8;color:#fff}
button.secondary{background:#e5e7eb;color:#111}button.danger{background:#b91c1c}
details{margin:4px 0}summary{cursor:pointer}
pre{margin:6px 0;background:#f9fafb;padding:8px;border-radius:4px;white-space:pre-wrap;overflow-wrap:anywhere;font-size:12px}
@media (max-width:600px){
.scroll table,.scroll tbody,.scroll tr,.scroll td{display:block;width:100%}
.scroll thead{display:none}
.scroll tr{border-bottom:1px solid #e5e7eb;padding:6px 0}
.scroll td{border:0;padding:1px 0}.scroll td:empty{display:none}
.scroll td::before{content:attr(data-label);display:block;font-size:11px;color:#6b7280;text-transform:uppercase;letter-spacing:.03em}
}
.login{max-width:420px;margin:10vh auto;background:#fff;padding:28px;border-radius:6px;box-shadow:0 2px 6px rgba(0,0,0,.2)}
.login input{width:100%}.login form{display:grid;gap:12px}
"#;

/// `GET /dashboard/style.css`.
pub(crate) async fn stylesheet() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        CSS,
    )
        .into_response()
}
