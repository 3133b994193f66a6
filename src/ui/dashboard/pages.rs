//! The dashboard's pages: one function per page, all in the same small layout.

use super::session::Admin;
use crate::projects::{keys::NewKeySet, Project};
pub(crate) use crate::ui::error;
use maud::{html, Markup};

pub(crate) fn layout(title: &str, admin: Option<&Admin>, body: Markup) -> Markup {
    let header = html! {
        a href="/dashboard" { "Portcullis" }
        @if let Some(admin) = admin {
            form method="post" action="/dashboard/sign-out" {
                span.muted { (admin.user.primary_email.as_deref().unwrap_or("")) " · " }
                input type="hidden" name="csrf" value=(admin.csrf_token());
                button.link type="submit" { "Sign out" }
            }
        }
    };
    crate::ui::shell(title, header, body)
}

/// A time (ms since the epoch) as the dashboard shows it: `2026-11-30 15:59:07 UTC`; empty for
/// none.
pub(crate) fn when(ms: Option<i64>) -> String {
    ms.map(|ms| format!("{} UTC", &crate::store::iso(ms)[..19].replace('T', " ")))
        .unwrap_or_default()
}

/// A project's sections, in its navigation's order: (path below the project's page, label).
const SECTIONS: [(&str, &str); 8] = [
    ("", "Overview"),
    ("users", "Users"),
    ("teams", "Teams"),
    ("permissions", "Permissions"),
    ("payments", "Payments"),
    ("webhooks", "Webhooks"),
    ("settings", "Settings"),
    ("launch", "Launch"),
];

/// [`layout`] for a page of `project`, with the project's navigation on top; `section` (a
/// path of [`SECTIONS`]) is marked as the current one.
pub(crate) fn project_layout(
    title: &str,
    admin: &Admin,
    project: &Project,
    section: &str,
    body: Markup,
) -> Markup {
    let base = format!("/dashboard/projects/{}", project.id);
    layout(
        title,
        Some(admin),
        html! {
            nav.project aria-label="Project" {
                strong { (project.display_name) }
                @for (path, label) in SECTIONS {
                    a href={ (base) @if !path.is_empty() { "/" (path) } }
                        aria-current=[(path == section).then_some("page")] { (label) }
                }
            }
            (body)
        },
    )
}

pub fn setup(code: &str, message: Option<&str>) -> Markup {
    layout(
        "Set up",
        None,
        html! {
            div.card.narrow {
                h1 { "Create the first admin" }
                p.muted { "This link works once. The account you create here administers this Portcullis server." }
                (error(message))
                form method="post" action="/dashboard/setup" {
                    input type="hidden" name="code" value=(code);
                    label for="email" { "Email" }
                    input id="email" type="email" name="email" required autocomplete="username";
                    label for="password" { "Password (8 characters or more)" }
                    input id="password" type="password" name="password" required autocomplete="new-password";
                    button type="submit" { "Create admin" }
                }
            }
        },
    )
}

/// A setup link that was used, expired or never existed: no form, and where to go instead.
pub fn setup_gone(reason: &str) -> Markup {
    layout(
        "Set up",
        None,
        html! {
            div.card.narrow {
                h1 { "This setup link no longer works" }
                p { (reason) " A setup link works once, to create the first admin; once an admin exists, "
                    a href="/dashboard/sign-in" { "sign in" } " or ask an admin for an invitation." }
            }
        },
    )
}

/// `email`: what the admin typed, kept after a refusal.
pub fn sign_in(message: Option<&str>, email: &str) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            div.card.narrow {
                h1 { "Sign in to the dashboard" }
                (error(message))
                form method="post" action="/dashboard/sign-in" {
                    label for="email" { "Email" }
                    input id="email" type="email" name="email" value=(email) required autocomplete="username";
                    label for="password" { "Password" }
                    input id="password" type="password" name="password" required autocomplete="current-password" autofocus[!email.is_empty()];
                    label for="totp" { "Authenticator code (if you turned on two-factor sign-in)" }
                    input id="totp" type="text" name="totp" inputmode="numeric" autocomplete="one-time-code" maxlength="6";
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

/// The outcome of a form on a page: a success notice or the reason it failed.
pub enum Notice<'a> {
    Done(&'a str),
    Failed(&'a str),
}

/// The sign-in methods the new-project form offers (form value, label), in the original's
/// onboarding order (`new-project/page-client-parts/shared.ts`).
pub const SIGN_IN_METHODS: [(&str, &str); 6] = [
    ("credential", "Email & password"),
    ("magic_link", "Magic link / OTP"),
    ("passkey", "Passkey"),
    ("google", "Google"),
    ("github", "GitHub"),
    ("microsoft", "Microsoft"),
];

/// `ticked`: the methods ticked at first (see `super::default_sign_in_methods`).
pub fn projects(
    admin: &Admin,
    list: &[Project],
    created: Option<(&Project, &NewKeySet, &str)>,
    notice: Option<Notice>,
    ticked: &[&str],
) -> Markup {
    let (done, message) = match notice {
        Some(Notice::Done(m)) => (Some(m), None),
        Some(Notice::Failed(m)) => (None, Some(m)),
        None => (None, None),
    };
    layout(
        "Projects",
        Some(admin),
        html! {
            (super::project::styles())
            @if let Some((project, keys, base_url)) = created {
                (super::project::quick_start(&project.id, keys, base_url, ""))
            }
            div.card {
                h1 { "Projects" }
                @if list.is_empty() {
                    p.muted { "No projects yet." }
                } @else {
                    table {
                        tr { th { "Name" } th { "ID" } }
                        @for p in list {
                            tr {
                                td { a href={ "/dashboard/projects/" (p.id) } { (p.display_name) } }
                                td { (super::project::copyable(&format!("id-{}", p.id), "project ID", &p.id)) }
                            }
                        }
                    }
                }
            }
            @if let Some(done) = done {
                p.notice role="status" { (done) }
            }
            (error(message))
            div.card {
                h2 { "New project" }
                form method="post" action="/dashboard/projects" {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="display_name" { "Name" }
                    input id="display_name" type="text" name="display_name" required maxlength="256";
                    input type="hidden" name="methods" value="chosen";
                    fieldset style="border:0;padding:0;margin:12px 0" {
                        legend.muted { "Sign-in methods (OAuth on shared development keys until you set your own in Settings)" }
                        @for (value, label) in SIGN_IN_METHODS {
                            label style="display:inline-block;margin-right:12px" {
                                input type="checkbox" name={ "method:" (value) } value="on" checked[ticked.contains(&value)];
                                " " (label)
                            }
                        }
                    }
                    button type="submit" { "Create project" }
                }
            }
            div.card {
                h2 { "Invite an admin" }
                p.muted { "They get an email with a link to set a password and join your team, seeing the same projects." }
                form method="post" action="/dashboard/admins/invite" {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="invite_email" { "Email" }
                    input id="invite_email" type="email" name="email" required;
                    button type="submit" { "Send invitation" }
                }
            }
        },
    )
}

pub fn not_found(admin: &Admin) -> Markup {
    layout(
        "Not found",
        Some(admin),
        html! {
            div.card {
                h1 { "Not found" }
                p { "There is no such page, or no such project among yours." }
                p { a href="/dashboard" { "Back to your projects" } }
            }
        },
    )
}
