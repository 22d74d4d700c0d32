//! The model catalogue: which model ids exist, which provider serves each,
//! and the aliases and fallbacks that route to them. Built once at start-up
//! from validated settings; immutable afterwards.

use hearth_providers::Provider;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::Arc;

/// One `[[models]]` entry.
#[derive(Debug, Clone)]
pub struct ModelSettings {
    /// The id clients send.
    pub id: String,
    /// The `name` of the provider that serves it.
    pub provider: String,
    /// The id the provider knows it by; defaults to `id`.
    pub upstream_model: Option<String>,
    /// Other ids that resolve to this model.
    pub aliases: Vec<String>,
    /// Model ids tried in order when this one fails before its first byte
    /// (connection error, timeout, 429, 5xx).
    pub fallbacks: Vec<String>,
    /// `max_tokens` sent when the client gives none and the provider needs
    /// one (Anthropic).
    pub max_tokens: Option<u32>,
}

/// A configuration mistake in the catalogue, naming the config key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("key '{key}': {message}")]
pub struct CatalogError {
    pub key: String,
    pub message: String,
}

/// A routable model.
#[derive(Debug)]
pub struct Route {
    pub id: String,
    pub provider: Arc<Provider>,
    pub upstream_model: String,
    pub aliases: Vec<String>,
    pub fallbacks: Vec<String>,
    pub max_tokens: u32,
}

/// How a model is listed on `/v1/models`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ModelView {
    pub id: String,
    pub object: &'static str,
    pub created: i64,
    pub owned_by: String,
}

impl From<&Route> for ModelView {
    fn from(r: &Route) -> Self {
        ModelView {
            id: r.id.clone(),
            object: "model",
            created: 0,
            owned_by: r.provider.name().to_owned(),
        }
    }
}

/// Every configured model, by id and by alias.
#[derive(Debug, Default)]
pub struct Catalog {
    /// In configuration order, for listing.
    routes: Vec<Arc<Route>>,
    /// Ids and aliases → route.
    by_name: HashMap<String, Arc<Route>>,
}

/// Used when neither the client nor the model settings give `max_tokens`.
pub const DEFAULT_MAX_TOKENS: u32 = 4096;

impl Catalog {
    /// Checks the models against the providers and builds the catalogue.
    pub fn new(
        providers: Vec<Provider>,
        models: &[ModelSettings],
    ) -> Result<Catalog, CatalogError> {
        let mut by_provider: HashMap<String, Arc<Provider>> = HashMap::new();
        for (i, provider) in providers.into_iter().enumerate() {
            if provider.name().trim().is_empty() {
                return Err(CatalogError {
                    key: format!("providers[{i}].name"),
                    message: "must not be empty".to_owned(),
                });
            }
            if by_provider.contains_key(provider.name()) {
                return Err(CatalogError {
                    key: format!("providers[{i}].name"),
                    message: format!("provider '{}' is defined twice", provider.name()),
                });
            }
            by_provider.insert(provider.name().to_owned(), Arc::new(provider));
        }
        let mut catalog = Catalog::default();
        for (i, m) in models.iter().enumerate() {
            let key = |field: &str| format!("models[{i}].{field}");
            if m.id.trim().is_empty() {
                return Err(CatalogError {
                    key: key("id"),
                    message: "must not be empty".to_owned(),
                });
            }
            let provider = by_provider
                .get(&m.provider)
                .cloned()
                .ok_or_else(|| CatalogError {
                    key: key("provider"),
                    message: format!("no provider named '{}' is configured", m.provider),
                })?;
            let route = Arc::new(Route {
                id: m.id.clone(),
                provider,
                upstream_model: m.upstream_model.clone().unwrap_or_else(|| m.id.clone()),
                aliases: m.aliases.clone(),
                fallbacks: m.fallbacks.clone(),
                max_tokens: m.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
            });
            for (j, name) in std::iter::once(&m.id).chain(&m.aliases).enumerate() {
                if catalog
                    .by_name
                    .insert(name.clone(), route.clone())
                    .is_some()
                {
                    let field = if j == 0 {
                        "id".to_owned()
                    } else {
                        format!("aliases[{}]", j - 1)
                    };
                    return Err(CatalogError {
                        key: key(&field),
                        message: format!("model id or alias '{name}' is used twice"),
                    });
                }
            }
            catalog.routes.push(route);
        }
        for (i, route) in catalog.routes.iter().enumerate() {
            for (j, fallback) in route.fallbacks.iter().enumerate() {
                let target = catalog.by_name.get(fallback).ok_or_else(|| CatalogError {
                    key: format!("models[{i}].fallbacks[{j}]"),
                    message: format!("no model or alias '{fallback}' is configured"),
                })?;
                if target.id == route.id {
                    return Err(CatalogError {
                        key: format!("models[{i}].fallbacks[{j}]"),
                        message: "a model cannot fall back to itself".to_owned(),
                    });
                }
            }
        }
        Ok(catalog)
    }

    /// Whether any model is configured at all.
    pub fn is_empty(&self) -> bool {
        self.routes.is_empty()
    }

    /// Resolves an id or alias.
    pub fn resolve(&self, name: &str) -> Option<&Arc<Route>> {
        self.by_name.get(name)
    }

    /// Every model, in configuration order.
    pub fn routes(&self) -> &[Arc<Route>] {
        &self.routes
    }
}
