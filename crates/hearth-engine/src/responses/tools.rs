//! The tools a response offers the model: Hearth's built-in tools (on by
//! default) and the client's functions, narrowed by `tool_choice`.

use super::request::{AllowedTool, CreateResponse, FILE_OPERATIONS, FunctionTool, ToolChoice};
use hearth_tools::BuiltinTool;
use serde_json::{Value, json};

/// The tools of one response.
#[derive(Debug, Clone)]
pub struct ToolSet {
    pub builtins: Vec<BuiltinTool>,
    pub functions: Vec<FunctionTool>,
    /// The model must call a tool (first turn only).
    pub required: bool,
    /// The model must call this tool (first turn only).
    pub forced: Option<String>,
    /// `tool_choice: "none"`: tools are described but may not be called.
    pub disabled: bool,
}

impl ToolSet {
    pub fn for_request(req: &CreateResponse) -> ToolSet {
        let mut set = ToolSet {
            builtins: BuiltinTool::ALL.to_vec(),
            functions: req.functions.clone(),
            required: false,
            forced: None,
            disabled: false,
        };
        match &req.tool_choice {
            ToolChoice::Auto => {}
            ToolChoice::None => set.disabled = true,
            ToolChoice::Required => set.required = true,
            ToolChoice::Function(name) => set.forced = Some(name.clone()),
            ToolChoice::Allowed { required, tools } => {
                set.required = *required;
                let builtin_allowed = tools.iter().any(
                    |t| matches!(t, AllowedTool::Builtin(family) if family == FILE_OPERATIONS),
                );
                set.builtins.retain(|b| {
                    builtin_allowed
                        || tools
                            .iter()
                            .any(|t| matches!(t, AllowedTool::Function(n) if n == b.name()))
                });
                set.functions.retain(|f| {
                    tools
                        .iter()
                        .any(|t| matches!(t, AllowedTool::Function(n) if *n == f.name))
                });
            }
        }
        set
    }

    /// `tools` as listed on the Response object.
    pub fn listed(&self) -> Vec<Value> {
        let mut out = Vec::new();
        if !self.builtins.is_empty() && !self.disabled {
            out.push(json!({"type": FILE_OPERATIONS}));
        }
        out.extend(self.functions.iter().map(|f| {
            json!({
                "type": "function",
                "name": f.name,
                "description": f.description,
                "parameters": f.parameters,
                "strict": f.strict.unwrap_or(false),
            })
        }));
        out
    }

    /// Chat-completions `tools` and `tool_choice` for one model call.
    pub fn chat_tools(&self, first_turn: bool) -> Option<(Value, Value)> {
        let mut tools: Vec<Value> = self
            .builtins
            .iter()
            .map(|b| {
                json!({"type": "function", "function": {
                    "name": b.name(), "description": b.description(), "parameters": b.parameters()
                }})
            })
            .collect();
        tools.extend(self.functions.iter().map(|f| {
            let mut function = json!({"name": f.name, "parameters": f.parameters});
            if let Some(d) = &f.description {
                function["description"] = Value::String(d.clone());
            }
            json!({"type": "function", "function": function})
        }));
        if tools.is_empty() {
            return None;
        }
        let choice = if self.disabled {
            json!("none")
        } else if let (true, Some(name)) = (first_turn, &self.forced) {
            json!({"type": "function", "function": {"name": name}})
        } else if first_turn && self.required {
            json!("required")
        } else {
            json!("auto")
        };
        Some((Value::Array(tools), choice))
    }

    /// Whether a call of the built-in `tool` may run: it is offered and
    /// tools are not disabled (a model that calls one despite
    /// `tool_choice: "none"` gets a failed call, not a run).
    pub fn may_run(&self, tool: BuiltinTool) -> bool {
        !self.disabled && self.builtins.contains(&tool)
    }

    pub fn is_client_function(&self, name: &str) -> bool {
        self.functions.iter().any(|f| f.name == name)
    }
}
