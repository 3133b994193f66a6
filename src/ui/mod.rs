//! Server-rendered pages in the binary: the admin dashboard (and later the end-user pages).

pub mod dashboard;
