//! Built-in email templates (HTML + plain text). Subjects and links follow the original's
//! defaults, which clients and mail filters look for; the HTML is our own. Every variable is
//! escaped before it reaches the HTML.

use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Template {
    EmailVerification,
    PasswordReset,
    MagicLink,
    TeamInvitation,
    SignInInvitation,
    PaymentReceipt,
    PaymentFailed,
    SubscriptionCanceled,
}

impl Template {
    pub const ALL: [Template; 8] = [
        Template::EmailVerification,
        Template::PasswordReset,
        Template::MagicLink,
        Template::TeamInvitation,
        Template::SignInInvitation,
        Template::PaymentReceipt,
        Template::PaymentFailed,
        Template::SubscriptionCanceled,
    ];

    /// The template's key in a project's `email_templates` overrides (the config's list, in
    /// the enum's order).
    pub fn key(self) -> &'static str {
        crate::projects::config::EMAIL_TEMPLATE_KEYS[self as usize]
    }

    /// The original's template ids, so `template_id` in send-email means the same thing.
    pub fn id(self) -> &'static str {
        match self {
            Template::EmailVerification => "e7d009ce-8d47-4528-b245-5bf119f2ffa3",
            Template::PasswordReset => "a70fb3a4-56c1-4e42-af25-49d25603abd0",
            Template::MagicLink => "822687fe-8d0a-4467-a0d1-416b6e639478",
            Template::TeamInvitation => "e84de395-2076-4831-9c19-8e9a96a868e4",
            Template::SignInInvitation => "066dd73c-36da-4fd0-b6d6-ebf87683f8bc",
            Template::PaymentReceipt => "70372aee-0441-4d80-974c-2e858e40123a",
            Template::PaymentFailed => "f64b1afe-27ec-4a28-a277-7178f3261f9a",
            // Ours: the original has no such template.
            Template::SubscriptionCanceled => "5d1c1e4a-7f0b-4c36-9a52-2b7d4f1e8c90",
        }
    }

    pub fn by_id(id: &str) -> Option<Template> {
        Template::ALL.into_iter().find(|t| t.id() == id)
    }
}

pub struct Rendered {
    pub subject: String,
    pub html: String,
    pub text: String,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn var<'a>(vars: &'a Value, name: &str) -> &'a str {
    vars.get(name).and_then(Value::as_str).unwrap_or("")
}

/// A simple, mail-client-safe layout around a heading, paragraphs and an optional button.
pub fn layout(
    project: &str,
    heading: &str,
    paragraphs: &[String],
    button: Option<(&str, &str)>,
) -> String {
    let mut body = format!(
        "<h1 style=\"font-size:20px;margin:0 0 16px\">{}</h1>",
        escape(heading)
    );
    for p in paragraphs {
        body.push_str(&format!(
            "<p style=\"margin:0 0 12px;line-height:1.5\">{p}</p>"
        ));
    }
    if let Some((label, url)) = button {
        body.push_str(&format!(
            "<p style=\"margin:20px 0\"><a href=\"{url}\" style=\"background:#111827;color:#ffffff;padding:10px 18px;border-radius:6px;text-decoration:none;display:inline-block\">{label}</a></p>\
             <p style=\"margin:0 0 12px;font-size:12px;color:#6b7280\">Or open this link: <a href=\"{url}\">{url}</a></p>",
            url = escape(url),
            label = escape(label)
        ));
    }
    format!(
        "<!DOCTYPE html><html><body style=\"margin:0;padding:24px;background:#f3f4f6;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;color:#111827\">\
         <div style=\"max-width:520px;margin:0 auto;background:#ffffff;border-radius:8px;padding:28px\">{body}</div>\
         <p style=\"text-align:center;font-size:12px;color:#9ca3af\">{}</p></body></html>",
        escape(project)
    )
}

/// Renders `template` for `project`, applying the project's overrides where it has them.
pub fn render_for(
    template: Template,
    project: &crate::projects::Project,
    vars: &Value,
) -> Rendered {
    let mut rendered = render(template, &project.display_name, vars);
    if let Some(o) = project.config.email_templates.get(template.key()) {
        let fill = |t: &str, escape_values: bool| {
            substitute(t, &project.display_name, vars, escape_values)
        };
        if let Some(subject) = &o.subject {
            rendered.subject = fill(subject, false);
        }
        if let Some(html) = &o.html {
            rendered.html = fill(html, true);
        }
        if let Some(text) = &o.text {
            rendered.text = fill(text, false);
        }
    }
    rendered
}

/// Replaces `{{ name }}` with the variable's value (or the project's name for `projectDisplayName`).
fn substitute(template: &str, project: &str, vars: &Value, escape_values: bool) -> String {
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            rest = &rest[start..];
            break;
        };
        let name = rest[start + 2..start + end].trim();
        let value = match name {
            "projectDisplayName" => project.to_string(),
            _ => match vars.get(name) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(v) => v.to_string(),
            },
        };
        out.push_str(&if escape_values { escape(&value) } else { value });
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

pub fn render(template: Template, project: &str, vars: &Value) -> Rendered {
    let p = escape(project);
    match template {
        Template::EmailVerification => {
            let link = var(vars, "emailVerificationLink");
            Rendered {
                subject: format!("Verify your email at {project}"),
                html: layout(project, "Verify your email", &[format!("Confirm this address to finish setting up your account at {p}.")], Some(("Verify email", link))),
                text: format!("Verify your email at {project}\n\nOpen this link to confirm your address:\n{link}\n"),
            }
        }
        Template::PasswordReset => {
            let link = var(vars, "passwordResetLink");
            Rendered {
                subject: format!("Reset your password at {project}"),
                html: layout(project, "Reset your password", &[format!("Someone asked to reset the password of your account at {p}. If it was not you, ignore this email.")], Some(("Reset password", link))),
                text: format!("Reset your password at {project}\n\nOpen this link to choose a new password:\n{link}\n\nIf you did not ask for this, ignore this email.\n"),
            }
        }
        Template::MagicLink => {
            let link = var(vars, "magicLink");
            let otp = var(vars, "otp");
            Rendered {
                subject: format!("Sign in to {project}: Your code is {otp}"),
                html: layout(
                    project,
                    &format!("Sign in to {project}"),
                    &[format!("Your code is <strong style=\"font-size:22px;letter-spacing:3px\">{}</strong>", escape(otp)), "Enter it where you started signing in, or use the button.".into()],
                    Some(("Sign in", link)),
                ),
                text: format!("Sign in to {project}\n\nYour code is {otp}\n\nOr open this link:\n{link}\n"),
            }
        }
        Template::TeamInvitation => {
            let team = var(vars, "teamDisplayName");
            let link = var(vars, "teamInvitationLink");
            Rendered {
                subject: format!("You have been invited to join {team}"),
                html: layout(project, &format!("Join {team}"), &[format!("You have been invited to join the team {} at {p}.", escape(team))], Some(("Accept invitation", link))),
                text: format!("You have been invited to join {team} at {project}.\n\nAccept the invitation:\n{link}\n"),
            }
        }
        Template::SignInInvitation => {
            let link = var(vars, "signInInvitationLink");
            Rendered {
                subject: format!("You have been invited to sign in to {project}"),
                html: layout(
                    project,
                    &format!("Sign in to {project}"),
                    &[format!("You have been invited to {p}.")],
                    Some(("Sign in", link)),
                ),
                text: format!("You have been invited to sign in to {project}.\n\n{link}\n"),
            }
        }
        Template::PaymentReceipt => {
            let (product, quantity, amount) = (
                var(vars, "productName"),
                vars.get("quantity")
                    .map(|q| q.to_string())
                    .unwrap_or_default(),
                var(vars, "amount"),
            );
            let link = vars.get("receiptLink").and_then(Value::as_str);
            Rendered {
                subject: format!("Your receipt from {project}"),
                html: layout(
                    project,
                    "Thank you for your purchase",
                    &[format!(
                        "{} × {} — {}",
                        escape(product),
                        escape(&quantity),
                        escape(amount)
                    )],
                    link.map(|l| ("View receipt", l)),
                ),
                text: format!(
                    "Your receipt from {project}\n\n{product} x {quantity}: {amount}\n{}\n",
                    link.unwrap_or("")
                ),
            }
        }
        Template::PaymentFailed => {
            let (product, amount) = (var(vars, "productName"), var(vars, "amount"));
            let reason = vars
                .get("failureReason")
                .and_then(Value::as_str)
                .unwrap_or("");
            let link = vars.get("invoiceUrl").and_then(Value::as_str);
            Rendered {
                subject: format!("Payment failed for {project}"),
                html: layout(
                    project,
                    "Your payment failed",
                    &[format!(
                        "We could not charge {} for {}. {}",
                        escape(amount),
                        escape(product),
                        escape(reason)
                    )],
                    link.map(|l| ("Update payment", l)),
                ),
                text: format!(
                    "Payment failed for {project}\n\n{product}: {amount}. {reason}\n{}\n",
                    link.unwrap_or("")
                ),
            }
        }
        Template::SubscriptionCanceled => {
            let product = var(vars, "productName");
            let end = var(vars, "endDate");
            let when = if end.is_empty() {
                "It has ended.".to_owned()
            } else {
                format!("It stays active until {end}.")
            };
            Rendered {
                subject: format!("Your {product} subscription at {project} is canceled"),
                html: layout(
                    project,
                    "Subscription canceled",
                    &[format!(
                        "Your {} subscription at {p} is canceled. {}",
                        escape(product),
                        escape(&when)
                    )],
                    None,
                ),
                text: format!("Your {product} subscription at {project} is canceled. {when}\n"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_name_each_template_once() {
        let keys: Vec<&str> = Template::ALL.iter().map(|t| t.key()).collect();
        assert_eq!(
            keys,
            [
                "email_verification",
                "password_reset",
                "magic_link",
                "team_invitation",
                "sign_in_invitation",
                "payment_receipt",
                "payment_failed",
                "subscription_canceled"
            ]
        );
    }

    #[test]
    fn overrides_substitute_and_escape() {
        let vars = json!({ "otp": "<X>", "n": 3 });
        assert_eq!(
            substitute(
                "Code {{ otp }} for {{projectDisplayName}} ({{n}}){{missing}}",
                "Acme",
                &vars,
                false
            ),
            "Code <X> for Acme (3)"
        );
        assert_eq!(
            substitute("<b>{{otp}}</b> {{ unclosed", "Acme", &vars, true),
            "<b>&lt;X&gt;</b> {{ unclosed"
        );
    }

    #[test]
    fn subjects_match_the_originals_and_html_is_escaped() {
        let r = render(
            Template::MagicLink,
            "Acme <b>",
            &json!({ "magicLink": "https://a.example/cb?code=x&y=\"1\"", "otp": "ABC123" }),
        );
        assert_eq!(r.subject, "Sign in to Acme <b>: Your code is ABC123");
        assert!(r.html.contains("Acme &lt;b&gt;"));
        assert!(!r.html.contains("Acme <b>"));
        assert!(r.html.contains("code=x&amp;y=&quot;1&quot;"));
        assert!(r.text.contains("https://a.example/cb?code=x&y=\"1\""));
        assert_eq!(
            render(Template::EmailVerification, "Acme", &json!({})).subject,
            "Verify your email at Acme"
        );
        assert_eq!(
            render(
                Template::TeamInvitation,
                "Acme",
                &json!({ "teamDisplayName": "Ops" })
            )
            .subject,
            "You have been invited to join Ops"
        );
    }
}
