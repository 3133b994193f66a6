//! Property test: random sequences of define / redefine / delete / grant / revoke on nested team
//! permissions, checked after every step against a small reference model of what each user holds,
//! directly and recursively. Seeds are fixed so a failure reproduces; each runs on both backends.

mod common;
use common::*;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

const SYSTEM: [&str; 6] = [
    "$update_team",
    "$delete_team",
    "$read_members",
    "$remove_members",
    "$invite_members",
    "$manage_api_keys",
];

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Default)]
struct Model {
    defs: BTreeMap<String, Vec<String>>,
    grants: BTreeSet<(String, String)>,
}

impl Model {
    fn all_ids(&self) -> Vec<String> {
        SYSTEM
            .iter()
            .map(|s| s.to_string())
            .chain(self.defs.keys().cloned())
            .collect()
    }
    fn contained(&self, id: &str) -> Vec<String> {
        self.defs.get(id).cloned().unwrap_or_default()
    }
    fn closure(&self, direct: &[String]) -> BTreeSet<String> {
        let mut held = BTreeSet::new();
        let mut stack = direct.to_vec();
        while let Some(id) = stack.pop() {
            let exists = SYSTEM.contains(&id.as_str()) || self.defs.contains_key(&id);
            if exists && held.insert(id.clone()) {
                stack.extend(self.contained(&id));
            }
        }
        held
    }
    fn reaches(&self, from: &str, target: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_string()];
        while let Some(id) = stack.pop() {
            if id == target {
                return true;
            }
            if seen.insert(id.clone()) {
                stack.extend(self.contained(&id));
            }
        }
        false
    }
    fn expected(&self, recursive: bool) -> BTreeSet<(String, String)> {
        let mut users: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for (u, p) in &self.grants {
            users.entry(u).or_default().push(p.clone());
        }
        let mut out = BTreeSet::new();
        for (u, direct) in users {
            let held: BTreeSet<String> = if recursive {
                self.closure(&direct)
            } else {
                direct.into_iter().collect()
            };
            for p in held {
                out.insert((u.to_string(), p));
            }
        }
        out
    }
}

async fn observed(app: &TestServer, tid: &str, recursive: bool) -> BTreeSet<(String, String)> {
    let v = app
        .server()
        .get(&format!(
            "/team-permissions?team_id={tid}&recursive={recursive}"
        ))
        .send()
        .await
        .expect(200);
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["user_id"].as_str().unwrap().to_string(),
                i["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn pick_subset(rng: &mut Rng, pool: &[String], max: usize) -> Vec<String> {
    let n = rng.below(max + 1);
    let mut out: Vec<String> = (0..n)
        .map(|_| pool[rng.below(pool.len())].clone())
        .collect();
    out.sort();
    out.dedup();
    out
}

async fn run(app: TestServer, seed: u64) {
    let mut rng = Rng(seed);
    let team = app
        .server()
        .post("/teams")
        .json(json!({ "display_name": "Model" }))
        .send()
        .await
        .expect(201);
    let tid = team["id"].as_str().unwrap().to_string();
    let mut users = vec![];
    for i in 0..3 {
        let u = app
            .server()
            .post("/users")
            .json(json!({ "display_name": format!("u{i}") }))
            .send()
            .await
            .expect(201);
        let uid = u["id"].as_str().unwrap().to_string();
        app.server()
            .post(&format!("/team-memberships/{tid}/{uid}"))
            .json(json!({}))
            .send()
            .await
            .expect(201);
        users.push(uid);
    }
    let mut model = Model::default();
    // What a new project starts with, and what adding a member granted.
    model.defs.insert(
        "team_member".into(),
        vec!["$invite_members".into(), "$read_members".into()],
    );
    model.defs.insert(
        "team_admin".into(),
        SYSTEM.iter().map(|s| s.to_string()).collect(),
    );
    for u in &users {
        model.grants.insert((u.clone(), "team_member".into()));
    }
    let mut next_id = 0;
    for step in 0..60 {
        let ids = model.all_ids();
        let custom: Vec<String> = model.defs.keys().cloned().collect();
        match rng.below(10) {
            0..=1 => {
                let id = format!("p{next_id}");
                next_id += 1;
                let contained = pick_subset(&mut rng, &ids, 3);
                app.admin()
                    .post("/team-permission-definitions")
                    .json(json!({ "id": id, "contained_permission_ids": contained }))
                    .send()
                    .await
                    .expect(201);
                model.defs.insert(id, contained);
            }
            2 if !custom.is_empty() => {
                let id = custom[rng.below(custom.len())].clone();
                let contained = pick_subset(&mut rng, &ids, 3);
                let cycle = contained.iter().any(|c| c == &id || model.reaches(c, &id));
                let r = app
                    .admin()
                    .patch(&format!("/team-permission-definitions/{id}"))
                    .json(json!({ "contained_permission_ids": contained }))
                    .send()
                    .await;
                if cycle {
                    r.expect_text(400, "cycle");
                } else {
                    r.expect(200);
                    model.defs.insert(id, contained);
                }
            }
            3 if custom.len() > 2 && rng.below(3) == 0 => {
                let id = custom[rng.below(custom.len())].clone();
                app.admin()
                    .delete(&format!("/team-permission-definitions/{id}"))
                    .send()
                    .await
                    .expect(200);
                model.defs.remove(&id);
                for c in model.defs.values_mut() {
                    c.retain(|x| x != &id);
                }
                model.grants.retain(|(_, p)| p != &id);
            }
            4..=6 => {
                let (u, p) = (
                    users[rng.below(users.len())].clone(),
                    ids[rng.below(ids.len())].clone(),
                );
                app.server()
                    .post(&format!("/team-permissions/{tid}/{u}/{p}"))
                    .json(json!({}))
                    .send()
                    .await
                    .expect(201);
                model.grants.insert((u, p));
            }
            _ => {
                let (u, p) = (
                    users[rng.below(users.len())].clone(),
                    ids[rng.below(ids.len())].clone(),
                );
                let r = app
                    .server()
                    .delete(&format!("/team-permissions/{tid}/{u}/{p}"))
                    .send()
                    .await;
                if model.grants.remove(&(u, p)) {
                    r.expect(200);
                } else {
                    r.expect_error(401, "TEAM_PERMISSION_NOT_FOUND");
                }
            }
        }
        assert_eq!(
            observed(&app, &tid, true).await,
            model.expected(true),
            "recursive listing differs at step {step} (seed {seed})"
        );
        assert_eq!(
            observed(&app, &tid, false).await,
            model.expected(false),
            "direct listing differs at step {step} (seed {seed})"
        );
    }
    // Spot-check the per-user filter against the same model.
    let u = &users[0];
    let v: Value = app
        .server()
        .get(&format!(
            "/team-permissions?team_id={tid}&user_id={u}&recursive=true"
        ))
        .send()
        .await
        .expect(200);
    assert_eq!(
        v["items"].as_array().unwrap().len(),
        model.expected(true).iter().filter(|(x, _)| x == u).count()
    );
}

both_backends!(seed_1, |app: TestServer| run(app, 0x9e37_79b9_7f4a_7c15));
both_backends!(seed_2, |app: TestServer| run(app, 0x2545_f491_4f6c_dd1d));
both_backends!(seed_3, |app: TestServer| run(app, 0xdead_beef_cafe_f00d));
