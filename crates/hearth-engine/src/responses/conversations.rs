//! Conversations: the OpenAI conversation calls and the item listings
//! (conversation items, response input items) with cursor pagination.

use crate::admin::{action_record, page_size};
use crate::{CallContext, Engine, EngineError};
use hearth_security::Principal;
use hearth_types::Permission;
use hearth_types::conversation::{Conversation, Order, StoredItem};
use hearth_types::id::{IdKind, new_id};
use hearth_types::time::now_millis;
use serde_json::{Map, Value, json};

/// A page request: `after` is an item id.
#[derive(Debug, Clone, Default)]
pub struct ListItems {
    pub after: Option<String>,
    pub limit: Option<i64>,
    /// `asc` or `desc` (default).
    pub order: Option<String>,
}

/// A page of items and whether more follow.
pub type ItemPage = (Vec<Value>, bool);

fn order_of(order: Option<&str>) -> Result<Order, EngineError> {
    match order {
        None | Some("desc") => Ok(Order::Desc),
        Some("asc") => Ok(Order::Asc),
        Some(other) => Err(EngineError::Invalid {
            param: "order".into(),
            message: format!("order must be asc or desc, got '{other}'"),
        }),
    }
}

fn invalid_cursor(after: &str) -> EngineError {
    EngineError::Rejected {
        param: "after".into(),
        message: format!("'{after}' is not an item of this list"),
        code: "invalid_cursor",
    }
}

fn conversation_json(c: &Conversation) -> Value {
    json!({"id": c.id, "object": "conversation", "created_at": c.created_at / 1000, "metadata": c.metadata})
}

fn bodies(items: Vec<StoredItem>, limit: i64) -> ItemPage {
    let cap = usize::try_from(limit).unwrap_or(usize::MAX);
    let more = items.len() > cap;
    (items.into_iter().take(cap).map(|i| i.body).collect(), more)
}

impl Engine {
    /// `POST /v1/conversations`: an empty conversation (with optional
    /// metadata and initial items).
    pub async fn create_conversation(
        &self,
        actor: &Principal,
        call: &CallContext,
        body: &Map<String, Value>,
    ) -> Result<Value, EngineError> {
        actor.require(Permission::UseModels)?;
        if let Some(unknown) = body
            .keys()
            .find(|k| !["metadata", "items"].contains(&k.as_str()))
        {
            return Err(EngineError::Invalid {
                param: unknown.clone().into(),
                message: format!("unknown parameter '{unknown}'"),
            });
        }
        let metadata = super::request::parse_metadata(body.get("metadata"))?;
        let now = now_millis();
        let conversation = Conversation {
            id: new_id(IdKind::Conversation),
            org_id: actor.org_id().to_owned(),
            user_id: actor.user_id().to_owned(),
            created_at: now,
            metadata,
        };
        let items = match body.get("items") {
            None | Some(Value::Null) => Vec::new(),
            Some(items) => {
                let parsed = super::request::parse_input(Some(items)).map_err(|e| match e {
                    EngineError::Invalid { param, message } => EngineError::Invalid {
                        param: param.replacen("input", "items", 1).into(),
                        message,
                    },
                    other => other,
                })?;
                parsed
                    .into_iter()
                    .map(|mut item| {
                        let id = new_id(IdKind::Message);
                        item["id"] = Value::String(id.clone());
                        hearth_types::conversation::NewItem {
                            id,
                            response_id: None,
                            kind: hearth_types::conversation::ItemKind::Input,
                            created_at: now,
                            body: item,
                        }
                    })
                    .collect()
            }
        };
        let mut tx = self.store.begin().await?;
        tx.insert_conversation(&conversation).await?;
        if !items.is_empty() {
            tx.append_items(actor.org_id(), Some(&conversation.id), &items)
                .await?;
        }
        tx.append_audit(vec![action_record(
            call,
            actor,
            actor.org_id(),
            "conversation.create",
            &conversation.id,
            now,
        )])
        .await?;
        tx.commit().await?;
        Ok(conversation_json(&conversation))
    }

    pub async fn get_conversation(
        &self,
        actor: &Principal,
        id: &str,
    ) -> Result<Value, EngineError> {
        actor.require(Permission::Read)?;
        let c = self
            .store
            .get_conversation(actor.org_id(), id)
            .await?
            .ok_or(EngineError::not_found("conversation"))?;
        Ok(conversation_json(&c))
    }

    /// `POST /v1/conversations/{id}`: replaces the metadata.
    pub async fn update_conversation(
        &self,
        actor: &Principal,
        call: &CallContext,
        id: &str,
        body: &Map<String, Value>,
    ) -> Result<Value, EngineError> {
        actor.require(Permission::UseModels)?;
        if let Some(unknown) = body.keys().find(|k| k.as_str() != "metadata") {
            return Err(EngineError::Invalid {
                param: unknown.clone().into(),
                message: format!("unknown parameter '{unknown}'"),
            });
        }
        let metadata = super::request::parse_metadata(body.get("metadata"))?;
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        if !tx
            .update_conversation_metadata(actor.org_id(), id, &metadata)
            .await?
        {
            return Err(EngineError::not_found("conversation"));
        }
        tx.append_audit(vec![action_record(
            call,
            actor,
            actor.org_id(),
            "conversation.update",
            id,
            now,
        )])
        .await?;
        tx.commit().await?;
        self.get_conversation(actor, id).await
    }

    pub async fn delete_conversation(
        &self,
        actor: &Principal,
        call: &CallContext,
        id: &str,
    ) -> Result<Value, EngineError> {
        actor.require(Permission::UseModels)?;
        let now = now_millis();
        let mut tx = self.store.begin().await?;
        if !tx.delete_conversation(actor.org_id(), id).await? {
            return Err(EngineError::not_found("conversation"));
        }
        tx.append_audit(vec![action_record(
            call,
            actor,
            actor.org_id(),
            "conversation.delete",
            id,
            now,
        )])
        .await?;
        tx.commit().await?;
        // Its files go with it.
        if let Ok(ws) = hearth_tools::Workspace::open(&self.responses.workspace_dir, id) {
            let _ = ws.remove().await;
        }
        Ok(json!({"id": id, "object": "conversation.deleted", "deleted": true}))
    }

    /// A page of a conversation's items.
    pub async fn list_conversation_items(
        &self,
        actor: &Principal,
        id: &str,
        page: ListItems,
    ) -> Result<ItemPage, EngineError> {
        actor.require(Permission::Read)?;
        if self
            .store
            .get_conversation(actor.org_id(), id)
            .await?
            .is_none()
        {
            return Err(EngineError::not_found("conversation"));
        }
        self.item_page(actor.org_id(), ItemList::Conversation(id), page)
            .await
    }

    pub async fn get_conversation_item(
        &self,
        actor: &Principal,
        id: &str,
        item_id: &str,
    ) -> Result<Value, EngineError> {
        actor.require(Permission::Read)?;
        let org = actor.org_id();
        if self.store.get_conversation(org, id).await?.is_none() {
            return Err(EngineError::not_found("conversation"));
        }
        Ok(self
            .store
            .get_conversation_item(org, id, item_id)
            .await?
            .ok_or(EngineError::not_found("item"))?
            .body)
    }

    /// A page of the input items of a stored response.
    pub async fn list_input_items(
        &self,
        actor: &Principal,
        response_id: &str,
        page: ListItems,
    ) -> Result<ItemPage, EngineError> {
        actor.require(Permission::Read)?;
        if self
            .store
            .get_response(actor.org_id(), response_id)
            .await?
            .is_none()
        {
            return Err(EngineError::not_found("response"));
        }
        self.item_page(actor.org_id(), ItemList::ResponseInput(response_id), page)
            .await
    }

    /// One page of either list; the cursor must be an item of that list.
    async fn item_page(
        &self,
        org: &str,
        list: ItemList<'_>,
        page: ListItems,
    ) -> Result<ItemPage, EngineError> {
        let limit = page_size(page.limit)?;
        let order = order_of(page.order.as_deref())?;
        let (conversation, response) = match list {
            ItemList::Conversation(id) => (Some(id), None),
            ItemList::ResponseInput(id) => (None, Some(id)),
        };
        let after = match &page.after {
            None => None,
            Some(after) => Some(
                self.store
                    .item_seq(org, conversation, response, after)
                    .await?
                    .ok_or_else(|| invalid_cursor(after))?,
            ),
        };
        let items = match list {
            ItemList::Conversation(id) => {
                self.store
                    .list_conversation_items(org, id, after, limit + 1, order)
                    .await?
            }
            ItemList::ResponseInput(id) => {
                self.store
                    .list_response_input_items(org, id, after, limit + 1, order)
                    .await?
            }
        };
        Ok(bodies(items, limit))
    }
}

/// The two paginated item lists.
#[derive(Clone, Copy)]
enum ItemList<'a> {
    Conversation(&'a str),
    ResponseInput(&'a str),
}
