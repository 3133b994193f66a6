//! Portcullis: user management in one binary, speaking the Stack Auth REST API v1.
//! The library holds every capability; `main.rs` is the command line around it.

pub mod api_keys;
pub mod auth;
pub mod codes;
pub mod config;
pub mod contact_channels;
pub mod crypto;
pub mod data_vault;
pub mod emails;
pub mod http;
pub mod jobs;
pub mod kernel;
pub mod limits;
pub mod oauth;
pub mod payments;
pub mod permissions;
pub mod projects;
pub mod server;
pub mod sign_up_rules;
pub mod store;
pub mod teams;
pub mod ui;
pub mod users;
pub mod webhooks;
