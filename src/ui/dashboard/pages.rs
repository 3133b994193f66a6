//! The dashboard's pages: one function per page, all in the same small layout.

use super::session::Admin;
use crate::projects::{keys::NewKeySet, Project};
use maud::{html, Markup, DOCTYPE};

const STYLE: &str = "
*{box-sizing:border-box}body{margin:0;font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;background:#f5f6f8;color:#14161a}
header{display:flex;align-items:center;justify-content:space-between;padding:12px 24px;background:#14161a;color:#fff}
header a{color:#fff;text-decoration:none;font-weight:600}main{max-width:880px;margin:32px auto;padding:0 20px}
.card{background:#fff;border:1px solid #e3e5e9;border-radius:10px;padding:22px;margin-bottom:20px}
h1{font-size:22px;margin:0 0 16px}h2{font-size:17px;margin:0 0 12px}label{display:block;font-size:13px;margin:12px 0 4px;color:#4a4f57}
input[type=text],input[type=email],input[type=password]{width:100%;padding:9px 11px;border:1px solid #cfd3d9;border-radius:7px;font-size:14px}
button{margin-top:14px;padding:9px 16px;border:0;border-radius:7px;background:#2b59ff;color:#fff;font-size:14px;cursor:pointer}
button.link{background:none;color:#fff;padding:0;margin:0}.error{background:#fdecec;color:#a11;border-radius:7px;padding:9px 12px;margin-bottom:12px}
.keys{background:#fff8e1;border:1px solid #f2d27a}code{background:#f0f1f4;padding:2px 6px;border-radius:4px;word-break:break-all}
table{width:100%;border-collapse:collapse}td,th{text-align:left;padding:9px 6px;border-bottom:1px solid #eceef1;font-size:14px}
.narrow{max-width:420px;margin:64px auto}.notice{background:#e8f5e9;color:#1b5e20;border-radius:7px;padding:9px 12px}.muted{color:#6b717b;font-size:13px}
";

pub(crate) fn layout(title: &str, admin: Option<&Admin>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · Portcullis" }
                style { (maud::PreEscaped(STYLE)) }
            }
            body {
                header {
                    a href="/dashboard" { "Portcullis" }
                    @if let Some(admin) = admin {
                        form method="post" action="/dashboard/sign-out" {
                            span.muted { (admin.user.primary_email.as_deref().unwrap_or("")) " · " }
                            input type="hidden" name="csrf" value=(admin.csrf_token());
                            button.link type="submit" { "Sign out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub(crate) fn error(message: Option<&str>) -> Markup {
    html! { @if let Some(m) = message { p.error role="alert" { (m) } } }
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

pub fn sign_in(message: Option<&str>) -> Markup {
    layout(
        "Sign in",
        None,
        html! {
            div.card.narrow {
                h1 { "Sign in to the dashboard" }
                (error(message))
                form method="post" action="/dashboard/sign-in" {
                    label for="email" { "Email" }
                    input id="email" type="email" name="email" required autocomplete="username";
                    label for="password" { "Password" }
                    input id="password" type="password" name="password" required autocomplete="current-password";
                    button type="submit" { "Sign in" }
                }
            }
        },
    )
}

pub fn projects(
    admin: &Admin,
    list: &[Project],
    created: Option<(&Project, &NewKeySet)>,
    message: Option<&str>,
) -> Markup {
    layout(
        "Projects",
        Some(admin),
        html! {
            @if let Some((project, keys)) = created {
                div.card.keys {
                    h2 { "Project “" (project.display_name) "” created" }
                    p { "Copy these keys now — they are shown only once." }
                    table {
                        tr { th { "Project ID" } td { code { (project.id) } } }
                        tr { th { "Publishable client key" } td { code id="publishable-key" { (keys.publishable_client_key) } } }
                        tr { th { "Secret server key" } td { code id="secret-key" { (keys.secret_server_key) } } }
                        tr { th { "Super secret admin key" } td { code { (keys.super_secret_admin_key) } } }
                    }
                }
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
                                td { code { (p.id) } }
                            }
                        }
                    }
                }
            }
            div.card {
                h2 { "New project" }
                (error(message))
                form method="post" action="/dashboard/projects" {
                    input type="hidden" name="csrf" value=(admin.csrf_token());
                    label for="display_name" { "Name" }
                    input id="display_name" type="text" name="display_name" required maxlength="256";
                    button type="submit" { "Create project" }
                }
            }
        },
    )
}

pub fn project(admin: &Admin, project: &Project, users: i64) -> Markup {
    layout(
        &project.display_name,
        Some(admin),
        html! {
            div.card {
                h1 { (project.display_name) }
                table {
                    tr { th { "Project ID" } td { code { (project.id) } } }
                    tr { th { "Users" } td id="user-count" { (users) } }
                    tr { th { "Password sign-in" } td { (if project.config.credential_enabled { "on" } else { "off" }) } }
                    tr { th { "Sign-up" } td { (if project.config.sign_up_enabled { "open" } else { "closed" }) } }
                }
                p { a href={ "/dashboard/projects/" (project.id) "/users" } { "Users →" } " " a href={ "/dashboard/projects/" (project.id) "/settings" } { "Settings →" } }
            }
        },
    )
}

pub fn not_found(admin: &Admin) -> Markup {
    layout(
        "Not found",
        Some(admin),
        html! {
            div.card { h1 { "Not found" } p { "There is no such project among yours." } }
        },
    )
}
