//! Organisations: created by the instance owner; their limits are set by
//! their own owners and admins.

use super::{action_record, check_limit, check_name};
use crate::{CallContext, Engine, EngineError};
use hearth_security::{Denied, Principal};
use hearth_types::admin::{CreateOrg, UpdateOrg};
use hearth_types::id::{IdKind, new_id};
use hearth_types::time::now_millis;
use hearth_types::{Org, Permission};

impl Engine {
    /// Creates an organisation. Only the instance owner may.
    pub async fn create_org(
        &self,
        actor: &Principal,
        call: &CallContext,
        req: CreateOrg,
    ) -> Result<Org, EngineError> {
        if !actor.is_instance_owner() {
            return Err(Denied::Forbidden {
                role: actor.role().to_string(),
                needed: "the instance owner (the bootstrap user)",
            }
            .into());
        }
        check_name("name", &req.name)?;
        check_limit("requests_per_minute", req.requests_per_minute)?;
        check_limit("tokens_per_minute", req.tokens_per_minute)?;
        let now = now_millis();
        let org = Org {
            id: new_id(IdKind::Org),
            name: req.name.trim().to_owned(),
            requests_per_minute: req.requests_per_minute,
            tokens_per_minute: req.tokens_per_minute,
            allowed_models: req.allowed_models.map(normalize_models).transpose()?,
            created_at: now,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_org(&org).await?;
        tx.append_audit(vec![action_record(
            call,
            actor,
            &org.id,
            "org.create",
            &org.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        Ok(org)
    }

    /// The organisations the caller can see: all of them for the instance
    /// owner, else their own.
    pub async fn list_orgs(&self, actor: &Principal) -> Result<Vec<Org>, EngineError> {
        actor.require(Permission::ManageOrg)?;
        if actor.is_instance_owner() {
            return Ok(self.store.list_orgs().await?);
        }
        Ok(self
            .store
            .get_org(actor.org_id())
            .await?
            .into_iter()
            .collect())
    }

    pub async fn get_org(&self, actor: &Principal, id: &str) -> Result<Org, EngineError> {
        actor.require(Permission::ManageOrg)?;
        actor.reach(id, "organization")?;
        self.store
            .get_org(id)
            .await?
            .ok_or(EngineError::not_found("organization"))
    }

    /// Renames an organisation or changes its limits.
    pub async fn update_org(
        &self,
        actor: &Principal,
        call: &CallContext,
        id: &str,
        req: UpdateOrg,
    ) -> Result<Org, EngineError> {
        let mut org = self.get_org(actor, id).await?;
        if let Some(name) = req.name {
            check_name("name", &name)?;
            org.name = name.trim().to_owned();
        }
        if let Some(rpm) = req.requests_per_minute {
            check_limit("requests_per_minute", rpm)?;
            org.requests_per_minute = rpm;
        }
        if let Some(tpm) = req.tokens_per_minute {
            check_limit("tokens_per_minute", tpm)?;
            org.tokens_per_minute = tpm;
        }
        if let Some(models) = req.allowed_models {
            org.allowed_models = models.map(normalize_models).transpose()?;
        }
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        tx.update_org(&org).await?;
        tx.append_audit(vec![action_record(
            call,
            actor,
            &org.id,
            "org.update",
            &org.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        self.auth.invalidate_org(&org.id);
        Ok(org)
    }
}

/// Checks an allow-list of model ids: non-empty strings, no duplicates.
/// Ids are not checked against the configured models, so an allow-list may
/// name a model before it is configured.
fn normalize_models(models: Vec<String>) -> Result<Vec<String>, EngineError> {
    let mut out: Vec<String> = Vec::with_capacity(models.len());
    for (i, id) in models.into_iter().enumerate() {
        let id = id.trim().to_owned();
        if id.is_empty() || id.len() > 256 {
            return Err(EngineError::invalid(
                "allowed_models",
                format!("allowed_models[{i}] must be a model id of 1 to 256 characters"),
            ));
        }
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}
