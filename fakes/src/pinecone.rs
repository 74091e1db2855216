//! A fake Pinecone (serverless, API 2025-04). The control plane (snake_case) creates, lists,
//! describes and deletes indexes; a new index reports `ready: false` on its first describes.
//! Each index gets its own data-plane host (a listener of its own, as Pinecone gives each
//! index its own host) with upsert, query, fetch, list, delete, update,
//! describe_index_stats and namespaces (camelCase). Limits are enforced as documented (2 MB
//! and 1,000 records per upsert, 40 KB metadata, flat metadata without nulls, dimension,
//! all-zero vectors, topK, ids per request), errors use the rpcStatus body, a data-plane 401
//! is plain text, writes return `x-pinecone-request-lsn` and become visible to queries only
//! after a configurable lag (`x-pinecone-max-indexed-lsn` says how far), and tests can make
//! the next data-plane calls fail with 429 or 5xx.

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const MAX_REQUEST_BYTES: usize = 2 * 1024 * 1024;
const MAX_METADATA_BYTES: usize = 40_960;

#[derive(Clone)]
struct Record {
    values: Vec<f32>,
    metadata: Map<String, Value>,
    visible_at: Instant,
}

struct Index {
    dimension: usize,
    metric: String,
    host: String,
    describes_until_ready: u32,
    namespaces: BTreeMap<String, BTreeMap<String, Record>>,
    /// (lsn, visible from) for every write.
    writes: Vec<(u64, Instant)>,
    lsn: u64,
}

pub struct PineconeState {
    pub key: String,
    /// How long a write takes to become visible to queries.
    pub lag: Mutex<Duration>,
    /// How many describes a new index answers with `ready: false`.
    pub describes_until_ready: u32,
    indexes: Mutex<BTreeMap<String, Index>>,
    faults: Mutex<VecDeque<(u16, String)>>,
    /// (index, namespace) of every query, in order.
    queried: Mutex<Vec<(String, String)>>,
    /// (path, body bytes, records) of every data-plane write.
    writes_seen: Mutex<Vec<(String, usize, usize)>>,
}

#[derive(Clone)]
pub struct FakePinecone {
    pub addr: std::net::SocketAddr,
    pub state: Arc<PineconeState>,
}

impl FakePinecone {
    pub async fn start(key: &str, port: u16) -> std::io::Result<Self> {
        let state = Arc::new(PineconeState {
            key: key.to_owned(),
            lag: Mutex::new(Duration::ZERO),
            describes_until_ready: 2,
            indexes: Mutex::new(BTreeMap::new()),
            faults: Mutex::new(VecDeque::new()),
            queried: Mutex::new(Vec::new()),
            writes_seen: Mutex::new(Vec::new()),
        });
        let router = Router::new()
            .route("/indexes", get(list_indexes).post(create_index))
            .route("/indexes/{name}", get(describe_index).delete(delete_index))
            .with_state(state.clone());
        Ok(Self { addr: super::serve(router, port).await?, state })
    }

    pub fn control_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn set_lag(&self, lag: Duration) {
        *self.state.lag.lock().unwrap() = lag;
    }

    /// The next data-plane calls answer with these statuses (and rpcStatus bodies).
    pub fn fail_next(&self, statuses: &[u16]) {
        let mut faults = self.state.faults.lock().unwrap();
        for &s in statuses {
            let message = match s {
                429 => "Request failed. You've reached the max query rate (100 per second) for namespace. Try again later.".to_string(),
                _ => "Internal error, please retry.".to_string(),
            };
            faults.push_back((s, message));
        }
    }

    pub fn queried(&self) -> Vec<(String, String)> {
        self.state.queried.lock().unwrap().clone()
    }

    /// (path, body bytes, records) of every upsert and delete.
    pub fn writes(&self) -> Vec<(String, usize, usize)> {
        self.state.writes_seen.lock().unwrap().clone()
    }

    /// Record ids in a namespace of an index, sorted.
    pub fn ids(&self, index: &str, namespace: &str) -> Vec<String> {
        let indexes = self.state.indexes.lock().unwrap();
        indexes.get(index).and_then(|i| i.namespaces.get(namespace)).map(|ns| ns.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn namespaces(&self, index: &str) -> Vec<String> {
        let indexes = self.state.indexes.lock().unwrap();
        indexes.get(index).map(|i| i.namespaces.keys().cloned().collect()).unwrap_or_default()
    }

    pub fn index_names(&self) -> Vec<String> {
        self.state.indexes.lock().unwrap().keys().cloned().collect()
    }
}

fn control_error(status: u16, code: &str, message: &str) -> Response {
    (StatusCode::from_u16(status).unwrap(), Json(json!({"error": {"code": code, "message": message}, "status": status}))).into_response()
}

/// Data-plane errors: rpcStatus with the gRPC code that goes with the HTTP status.
fn data_error(status: u16, message: &str) -> Response {
    let code = match status {
        400 => 3,
        404 => 5,
        429 => 8,
        500 => 13,
        503 => 14,
        _ => 2,
    };
    (StatusCode::from_u16(status).unwrap(), Json(json!({"code": code, "message": message, "details": []}))).into_response()
}

fn authorised(state: &PineconeState, headers: &HeaderMap) -> bool {
    headers.get("api-key").and_then(|v| v.to_str().ok()) == Some(state.key.as_str())
}

fn model(name: &str, i: &Index) -> Value {
    let ready = i.describes_until_ready == 0;
    json!({
        "name": name, "dimension": i.dimension, "metric": i.metric, "host": i.host, "deletion_protection": "disabled",
        "spec": {"serverless": {"cloud": "aws", "region": "us-east-1"}},
        "status": {"ready": ready, "state": if ready { "Ready" } else { "Initializing" }}, "vector_type": "dense", "tags": {},
    })
}

async fn list_indexes(State(state): State<Arc<PineconeState>>, headers: HeaderMap) -> Response {
    if !authorised(&state, &headers) {
        return control_error(401, "UNAUTHENTICATED", "Invalid API key.");
    }
    let indexes = state.indexes.lock().unwrap();
    Json(json!({"indexes": indexes.iter().map(|(n, i)| model(n, i)).collect::<Vec<_>>()})).into_response()
}

async fn create_index(State(state): State<Arc<PineconeState>>, headers: HeaderMap, body: Bytes) -> Response {
    if !authorised(&state, &headers) {
        return control_error(401, "UNAUTHENTICATED", "Invalid API key.");
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return control_error(400, "INVALID_ARGUMENT", "Failed to parse the request body as JSON.");
    };
    for field in ["name", "dimension", "metric", "spec"] {
        if body.get(field).is_none() {
            return control_error(422, "UNPROCESSABLE_ENTITY", &format!("Failed to deserialize the JSON body into the target type: missing field `{field}`"));
        }
    }
    let name = body["name"].as_str().unwrap_or_default().to_owned();
    let valid_name = (1..=45).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !valid_name {
        return control_error(400, "INVALID_ARGUMENT", "Name must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character.");
    }
    let Some(dimension) = body["dimension"].as_u64().filter(|d| (1..=20_000).contains(d)) else {
        return control_error(400, "INVALID_ARGUMENT", "Dimension must be between 1 and 20000.");
    };
    let metric = body["metric"].as_str().unwrap_or_default().to_owned();
    if !["cosine", "euclidean", "dotproduct"].contains(&metric.as_str()) {
        return control_error(400, "INVALID_ARGUMENT", "Metric must be one of cosine, euclidean, dotproduct.");
    }
    if state.indexes.lock().unwrap().contains_key(&name) {
        return control_error(409, "ALREADY_EXISTS", "Resource already exists.");
    }
    // Its own data-plane host, as Pinecone gives each index.
    let router = Router::new()
        .route("/vectors/upsert", post(upsert))
        .route("/query", post(query))
        .route("/vectors/fetch", get(fetch))
        .route("/vectors/list", get(list))
        .route("/vectors/delete", post(delete))
        .route("/describe_index_stats", post(stats))
        .route("/namespaces", get(list_namespaces))
        .route("/namespaces/{ns}", get(describe_namespace).delete(delete_namespace))
        // Oversize requests get Pinecone's own 400, not the framework's 413.
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024))
        .with_state((state.clone(), name.clone()));
    let addr = match super::serve(router, 0).await {
        Ok(addr) => addr,
        Err(e) => return control_error(500, "UNKNOWN", &e.to_string()),
    };
    let index = Index {
        dimension: dimension as usize,
        metric,
        host: addr.to_string(),
        describes_until_ready: state.describes_until_ready,
        namespaces: BTreeMap::new(),
        writes: Vec::new(),
        lsn: 0,
    };
    let mut m = model(&name, &index);
    m["status"] = json!({"ready": false, "state": "Initializing"});
    state.indexes.lock().unwrap().insert(name, index);
    (StatusCode::CREATED, Json(m)).into_response()
}

async fn describe_index(State(state): State<Arc<PineconeState>>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if !authorised(&state, &headers) {
        return control_error(401, "UNAUTHENTICATED", "Invalid API key.");
    }
    let mut indexes = state.indexes.lock().unwrap();
    let Some(index) = indexes.get_mut(&name) else {
        return control_error(404, "NOT_FOUND", &format!("Index {name} not found."));
    };
    let out = model(&name, index);
    index.describes_until_ready = index.describes_until_ready.saturating_sub(1);
    Json(out).into_response()
}

async fn delete_index(State(state): State<Arc<PineconeState>>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    if !authorised(&state, &headers) {
        return control_error(401, "UNAUTHENTICATED", "Invalid API key.");
    }
    match state.indexes.lock().unwrap().remove(&name) {
        Some(_) => StatusCode::ACCEPTED.into_response(),
        None => control_error(404, "NOT_FOUND", &format!("Index {name} not found.")),
    }
}

type Data = State<(Arc<PineconeState>, String)>;

/// Key check and scripted faults, shared by every data-plane call.
fn gate(state: &PineconeState, headers: &HeaderMap) -> Option<Response> {
    if !authorised(state, headers) {
        // Plain text, as older data-plane responses were.
        return Some((StatusCode::UNAUTHORIZED, [("www-authenticate", "ApiKey")], "Unauthorized").into_response());
    }
    let fault = state.faults.lock().unwrap().pop_front();
    fault.map(|(status, message)| data_error(status, &message))
}

fn with_index<T>(state: &PineconeState, name: &str, f: impl FnOnce(&mut Index) -> T) -> Option<T> {
    state.indexes.lock().unwrap().get_mut(name).map(f)
}

fn lsn_response(body: Value, header: &str, lsn: u64) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut().insert(axum::http::HeaderName::from_bytes(header.as_bytes()).unwrap(), lsn.to_string().parse().unwrap());
    r
}

fn check_metadata(m: &Value) -> Result<Map<String, Value>, String> {
    let Some(map) = m.as_object() else { return Err("Metadata must be an object".into()) };
    for (k, v) in map {
        let ok = match v {
            Value::String(_) | Value::Number(_) | Value::Bool(_) => true,
            Value::Array(items) => items.iter().all(|i| i.is_string()),
            _ => false,
        };
        if !ok {
            return Err(format!("Metadata value for field {k} must be a string, number, boolean or list of strings; got {}", if v.is_null() { "null" } else { "an object" }));
        }
    }
    let size = serde_json::to_vec(m).map(|b| b.len()).unwrap_or(0);
    if size > MAX_METADATA_BYTES {
        return Err(format!("metadata size is {size} bytes, which exceeds the limit of {MAX_METADATA_BYTES} bytes per vector"));
    }
    Ok(map.clone())
}

async fn upsert(State((state, index)): Data, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    if body.len() > MAX_REQUEST_BYTES {
        return data_error(400, &format!("Request size {}MB exceeds the maximum supported size of 2MB", body.len().div_ceil(1024 * 1024)));
    }
    let Ok(body_json) = serde_json::from_slice::<Value>(&body) else { return data_error(400, "Invalid JSON") };
    let Some(vectors) = body_json.get("vectors").and_then(|v| v.as_array()) else {
        return data_error(400, "Missing field 'vectors'");
    };
    if vectors.is_empty() || vectors.len() > 1000 {
        return data_error(400, &format!("Upsert request must contain between 1 and 1000 vectors; got {}", vectors.len()));
    }
    state.writes_seen.lock().unwrap().push(("/vectors/upsert".into(), body.len(), vectors.len()));
    let namespace = body_json.get("namespace").and_then(|n| n.as_str()).unwrap_or("").to_owned();
    let lag = *state.lag.lock().unwrap();
    let result = with_index(&state, &index, |i| {
        let mut parsed = Vec::new();
        for v in vectors {
            let id = v.get("id").and_then(|i| i.as_str()).unwrap_or_default();
            if id.is_empty() || id.len() > 512 {
                return Err("Vector id must be 1 to 512 characters long".to_string());
            }
            let values: Vec<f32> = v.get("values").and_then(|v| v.as_array()).map(|a| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect()).unwrap_or_default();
            if values.len() != i.dimension {
                return Err(format!("Vector dimension {} does not match the dimension of the index {}", values.len(), i.dimension));
            }
            if values.iter().all(|x| *x == 0.0) {
                return Err("Dense vectors must contain at least one non-zero value".to_string());
            }
            let metadata = match v.get("metadata") {
                Some(m) => check_metadata(m)?,
                None => Map::new(),
            };
            parsed.push((id.to_owned(), values, metadata));
        }
        i.lsn += 1;
        let visible_at = Instant::now() + lag;
        i.writes.push((i.lsn, visible_at));
        let ns = i.namespaces.entry(namespace).or_default();
        for (id, values, metadata) in parsed {
            ns.insert(id, Record { values, metadata, visible_at });
        }
        Ok((vectors.len(), i.lsn))
    });
    match result {
        None => data_error(404, "Index not found"),
        Some(Err(message)) => data_error(400, &message),
        Some(Ok((count, lsn))) => lsn_response(json!({"upsertedCount": count}), "x-pinecone-request-lsn", lsn),
    }
}

fn matches(filter: &Value, metadata: &Map<String, Value>) -> bool {
    let Some(filter) = filter.as_object() else { return true };
    filter.iter().all(|(key, cond)| match key.as_str() {
        "$and" => cond.as_array().is_some_and(|a| a.iter().all(|f| matches(f, metadata))),
        "$or" => cond.as_array().is_some_and(|a| a.iter().any(|f| matches(f, metadata))),
        field => {
            let value = metadata.get(field);
            let ops = match cond.as_object() {
                Some(ops) if ops.keys().all(|k| k.starts_with('$')) => ops.clone(),
                _ => Map::from_iter([("$eq".to_string(), cond.clone())]),
            };
            ops.iter().all(|(op, arg)| compare(op, arg, value))
        }
    })
}

fn compare(op: &str, arg: &Value, value: Option<&Value>) -> bool {
    // A list field matches $eq/$in when any element does; $ne/$nin fail when any element does.
    let items: Vec<&Value> = match value {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(v) => vec![v],
        None => vec![],
    };
    let num = |v: &Value| v.as_f64();
    match op {
        "$eq" => items.iter().any(|v| *v == arg),
        "$ne" => !items.iter().any(|v| *v == arg),
        "$in" => arg.as_array().is_some_and(|a| items.iter().any(|v| a.contains(v))),
        "$nin" => arg.as_array().is_some_and(|a| !items.iter().any(|v| a.contains(v))),
        "$exists" => arg.as_bool() == Some(value.is_some()),
        "$gt" | "$gte" | "$lt" | "$lte" => match (value.and_then(num), num(arg)) {
            (Some(v), Some(a)) => match op {
                "$gt" => v > a,
                "$gte" => v >= a,
                "$lt" => v < a,
                _ => v <= a,
            },
            _ => false,
        },
        _ => false,
    }
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 { 0.0 } else { dot / (na * nb) }
}

async fn query(State((state, index)): Data, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return data_error(400, "Invalid JSON") };
    let Some(top_k) = body.get("topK").and_then(|k| k.as_u64()) else { return data_error(400, "Missing field 'topK'") };
    if !(1..=10_000).contains(&top_k) {
        return data_error(400, "topK must be between 1 and 10000");
    }
    let (vector, by_id) = (body.get("vector"), body.get("id"));
    if vector.is_some() == by_id.is_some() {
        return data_error(400, "Exactly one of 'vector' or 'id' must be provided");
    }
    let namespace = body.get("namespace").and_then(|n| n.as_str()).unwrap_or("").to_owned();
    state.queried.lock().unwrap().push((index.clone(), namespace.clone()));
    let include_metadata = body.get("includeMetadata").and_then(|b| b.as_bool()).unwrap_or(false);
    let filter = body.get("filter").cloned().unwrap_or(Value::Null);
    let now = Instant::now();
    let result = with_index(&state, &index, |i| {
        let indexed = i.writes.iter().filter(|(_, at)| *at <= now).map(|(lsn, _)| *lsn).max().unwrap_or(0);
        let ns = i.namespaces.get(&namespace);
        let query: Vec<f32> = match (vector, by_id) {
            (Some(v), _) => v.as_array().map(|a| a.iter().filter_map(|x| x.as_f64()).map(|x| x as f32).collect()).unwrap_or_default(),
            (_, Some(id)) => ns.and_then(|ns| ns.get(id.as_str().unwrap_or_default())).map(|r| r.values.clone()).unwrap_or_default(),
            _ => Vec::new(),
        };
        if vector.is_some() && query.len() != i.dimension {
            return Err(format!("Vector dimension {} does not match the dimension of the index {}", query.len(), i.dimension));
        }
        let mut hits: Vec<(String, f32, Map<String, Value>)> = ns
            .map(|ns| {
                ns.iter()
                    .filter(|(_, r)| r.visible_at <= now && matches(&filter, &r.metadata))
                    .map(|(id, r)| (id.clone(), cosine(&query, &r.values), r.metadata.clone()))
                    .collect()
            })
            .unwrap_or_default();
        hits.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        hits.truncate(top_k as usize);
        Ok((hits, indexed))
    });
    match result {
        None => data_error(404, "Index not found"),
        Some(Err(message)) => data_error(400, &message),
        Some(Ok((hits, indexed))) => {
            let matches: Vec<Value> = hits
                .into_iter()
                .map(|(id, score, metadata)| if include_metadata { json!({"id": id, "score": score, "values": [], "metadata": metadata}) } else { json!({"id": id, "score": score, "values": []}) })
                .collect();
            lsn_response(json!({"matches": matches, "namespace": namespace, "usage": {"readUnits": 1}}), "x-pinecone-max-indexed-lsn", indexed)
        }
    }
}

async fn fetch(State((state, index)): Data, headers: HeaderMap, raw: axum::extract::RawQuery) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    let pairs: Vec<(String, String)> = url_pairs(raw.0.as_deref().unwrap_or(""));
    let ids: Vec<&String> = pairs.iter().filter(|(k, _)| k == "ids").map(|(_, v)| v).collect();
    if ids.is_empty() || ids.len() > 1000 {
        return data_error(400, "Between 1 and 1000 ids must be provided");
    }
    let namespace = pairs.iter().find(|(k, _)| k == "namespace").map(|(_, v)| v.clone()).unwrap_or_default();
    let vectors = with_index(&state, &index, |i| {
        let mut out = Map::new();
        if let Some(ns) = i.namespaces.get(&namespace) {
            for id in ids {
                if let Some(r) = ns.get(id.as_str()) {
                    out.insert(id.clone(), json!({"id": id, "values": r.values, "metadata": r.metadata}));
                }
            }
        }
        out
    });
    Json(json!({"vectors": vectors.unwrap_or_default(), "namespace": namespace, "usage": {"readUnits": 1}})).into_response()
}

fn url_pairs(raw: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{raw}")).map(|u| u.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect()).unwrap_or_default()
}

async fn list(State((state, index)): Data, headers: HeaderMap, Query(q): Query<HashMap<String, String>>) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    let namespace = q.get("namespace").cloned().unwrap_or_default();
    let prefix = q.get("prefix").cloned().unwrap_or_default();
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).unwrap_or(100);
    if !(1..=100).contains(&limit) {
        return data_error(400, "limit must be between 1 and 100");
    }
    let after = q.get("paginationToken").cloned();
    let ids: Vec<String> = with_index(&state, &index, |i| {
        i.namespaces
            .get(&namespace)
            .map(|ns| ns.keys().filter(|id| id.starts_with(&prefix) && after.as_ref().is_none_or(|a| *id > a)).cloned().collect())
            .unwrap_or_default()
    })
    .unwrap_or_default();
    let page: Vec<Value> = ids.iter().take(limit).map(|id| json!({"id": id})).collect();
    let mut body = json!({"vectors": page, "namespace": namespace, "usage": {"readUnits": 1}});
    if ids.len() > limit {
        body["pagination"] = json!({"next": ids[limit - 1]});
    }
    Json(body).into_response()
}

async fn delete(State((state, index)): Data, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else { return data_error(400, "Invalid JSON") };
    let ids = body.get("ids").and_then(|i| i.as_array());
    let all = body.get("deleteAll").and_then(|a| a.as_bool()).unwrap_or(false);
    let filter = body.get("filter");
    if [ids.is_some(), all, filter.is_some()].iter().filter(|x| **x).count() != 1 {
        return data_error(400, "Exactly one of ids, deleteAll or filter must be provided");
    }
    if ids.is_some_and(|i| i.len() > 1000) {
        return data_error(400, "At most 1000 ids can be deleted in one request");
    }
    state.writes_seen.lock().unwrap().push(("/vectors/delete".into(), 0, ids.map(|i| i.len()).unwrap_or(0)));
    let namespace = body.get("namespace").and_then(|n| n.as_str()).unwrap_or("").to_owned();
    let lsn = with_index(&state, &index, |i| {
        if all {
            i.namespaces.remove(&namespace);
        } else if let Some(ns) = i.namespaces.get_mut(&namespace) {
            match (ids, filter) {
                (Some(ids), _) => ids.iter().filter_map(|id| id.as_str()).for_each(|id| {
                    ns.remove(id);
                }),
                (_, Some(f)) => ns.retain(|_, r| !matches(f, &r.metadata)),
                _ => {}
            }
        }
        i.lsn += 1;
        i.writes.push((i.lsn, Instant::now()));
        i.lsn
    });
    match lsn {
        Some(lsn) => lsn_response(json!({}), "x-pinecone-request-lsn", lsn),
        None => data_error(404, "Index not found"),
    }
}

async fn stats(State((state, index)): Data, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    let out = with_index(&state, &index, |i| {
        let namespaces: Map<String, Value> = i.namespaces.iter().map(|(n, ns)| (n.clone(), json!({"vectorCount": ns.len()}))).collect();
        let total: usize = i.namespaces.values().map(|ns| ns.len()).sum();
        json!({"namespaces": namespaces, "dimension": i.dimension, "indexFullness": 0, "totalVectorCount": total, "metric": i.metric, "vectorType": "dense"})
    });
    Json(out.unwrap_or_default()).into_response()
}

async fn list_namespaces(State((state, index)): Data, headers: HeaderMap) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    let out = with_index(&state, &index, |i| i.namespaces.iter().map(|(n, ns)| json!({"name": n, "record_count": ns.len()})).collect::<Vec<_>>());
    Json(json!({"namespaces": out.unwrap_or_default()})).into_response()
}

async fn describe_namespace(State((state, index)): Data, headers: HeaderMap, Path(ns): Path<String>) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    match with_index(&state, &index, |i| i.namespaces.get(&ns).map(|n| n.len())).flatten() {
        Some(count) => Json(json!({"name": ns, "record_count": count})).into_response(),
        None => data_error(404, "Namespace not found"),
    }
}

async fn delete_namespace(State((state, index)): Data, headers: HeaderMap, Path(ns): Path<String>) -> Response {
    if let Some(r) = gate(&state, &headers) {
        return r;
    }
    match with_index(&state, &index, |i| i.namespaces.remove(&ns)).flatten() {
        Some(_) => Json(json!({})).into_response(),
        None => data_error(404, "Namespace not found"),
    }
}
