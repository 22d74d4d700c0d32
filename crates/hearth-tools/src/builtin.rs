//! [`BuiltinTool`]: the closed set of tools compiled into Hearth.

use serde_json::Value;

use crate::deadline::Deadline;
use crate::tools::edit_file::{self, EditFile};
use crate::tools::list_files::{self, ListFiles};
use crate::tools::read_file::{self, ReadFile};
use crate::tools::search_files::{self, SearchFiles};
use crate::tools::write_file::{self, WriteFile};
use crate::{ToolError, ToolLimits, ToolOutput, Workspace};

/// The built-in tools: a closed set. Each works on one [`Workspace`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BuiltinTool {
    ListFiles,
    ReadFile,
    WriteFile,
    SearchFiles,
    EditFile,
}

/// A call whose arguments have been checked, ready to run off the async
/// threads.
enum Request {
    ListFiles(ListFiles),
    ReadFile(ReadFile),
    WriteFile(WriteFile),
    SearchFiles(SearchFiles),
    EditFile(EditFile),
}

impl BuiltinTool {
    /// Every built-in tool, in the order they are offered to a model.
    pub const ALL: [BuiltinTool; 5] = [
        BuiltinTool::ListFiles,
        BuiltinTool::ReadFile,
        BuiltinTool::WriteFile,
        BuiltinTool::SearchFiles,
        BuiltinTool::EditFile,
    ];

    /// The name the model calls the tool by.
    pub fn name(self) -> &'static str {
        match self {
            BuiltinTool::ListFiles => "list_files",
            BuiltinTool::ReadFile => "read_file",
            BuiltinTool::WriteFile => "write_file",
            BuiltinTool::SearchFiles => "search_files",
            BuiltinTool::EditFile => "edit_file",
        }
    }

    /// The tool called `name`, if it is a built-in one.
    pub fn from_name(name: &str) -> Option<BuiltinTool> {
        Self::ALL.into_iter().find(|tool| tool.name() == name)
    }

    /// What the tool does, written for the model.
    pub fn description(self) -> &'static str {
        match self {
            BuiltinTool::ListFiles => list_files::DESCRIPTION,
            BuiltinTool::ReadFile => read_file::DESCRIPTION,
            BuiltinTool::WriteFile => write_file::DESCRIPTION,
            BuiltinTool::SearchFiles => search_files::DESCRIPTION,
            BuiltinTool::EditFile => edit_file::DESCRIPTION,
        }
    }

    /// A JSON Schema for the arguments: `type: object`, `properties`,
    /// `required`, `additionalProperties: false`.
    pub fn parameters(self) -> Value {
        match self {
            BuiltinTool::ListFiles => list_files::parameters(),
            BuiltinTool::ReadFile => read_file::parameters(),
            BuiltinTool::WriteFile => write_file::parameters(),
            BuiltinTool::SearchFiles => search_files::parameters(),
            BuiltinTool::EditFile => edit_file::parameters(),
        }
    }

    /// Runs the tool with the model's arguments (a JSON object).
    ///
    /// Arguments are checked first ([`ToolError::InvalidArguments`] names
    /// the argument). The work then runs on tokio's blocking pool and is
    /// bounded by `limits.timeout`: the caller gets [`ToolError::Timeout`]
    /// when it expires, and the blocking work, which checks the same
    /// deadline as it goes, stops soon after.
    pub async fn run(
        self,
        ws: &Workspace,
        args: &Value,
        limits: &ToolLimits,
    ) -> Result<ToolOutput, ToolError> {
        let request = self.parse(args)?;
        let deadline = Deadline::after(limits.timeout);
        let ws = ws.clone();
        let owned_limits = limits.clone();
        let task = tokio::task::spawn_blocking(move || request.run(&ws, &owned_limits, deadline));
        match tokio::time::timeout(limits.timeout, task).await {
            Err(_elapsed) => Err(ToolError::Timeout),
            Ok(Err(_join)) => Err(ToolError::Io(format!(
                "the {} tool failed unexpectedly",
                self.name()
            ))),
            Ok(Ok(result)) => result,
        }
    }

    fn parse(self, args: &Value) -> Result<Request, ToolError> {
        Ok(match self {
            BuiltinTool::ListFiles => Request::ListFiles(ListFiles::parse(args)?),
            BuiltinTool::ReadFile => Request::ReadFile(ReadFile::parse(args)?),
            BuiltinTool::WriteFile => Request::WriteFile(WriteFile::parse(args)?),
            BuiltinTool::SearchFiles => Request::SearchFiles(SearchFiles::parse(args)?),
            BuiltinTool::EditFile => Request::EditFile(EditFile::parse(args)?),
        })
    }
}

impl Request {
    fn run(
        self,
        ws: &Workspace,
        limits: &ToolLimits,
        deadline: Deadline,
    ) -> Result<ToolOutput, ToolError> {
        match self {
            Request::ListFiles(request) => request.run(ws, limits, deadline),
            Request::ReadFile(request) => request.run(ws, limits, deadline),
            Request::WriteFile(request) => request.run(ws, limits, deadline),
            Request::SearchFiles(request) => request.run(ws, limits, deadline),
            Request::EditFile(request) => request.run(ws, limits, deadline),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::json;

    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let names: HashSet<&str> = BuiltinTool::ALL.iter().map(|tool| tool.name()).collect();
        assert_eq!(names.len(), BuiltinTool::ALL.len());
        for tool in BuiltinTool::ALL {
            assert_eq!(BuiltinTool::from_name(tool.name()), Some(tool));
        }
        assert_eq!(BuiltinTool::from_name("shell"), None);
        assert_eq!(BuiltinTool::from_name("READ_FILE"), None);
    }

    #[test]
    fn schemas_are_closed_objects_whose_required_names_are_properties() {
        for tool in BuiltinTool::ALL {
            let schema = tool.parameters();
            assert_eq!(schema["type"], "object", "{}", tool.name());
            assert_eq!(schema["additionalProperties"], false, "{}", tool.name());
            let properties = schema["properties"].as_object().unwrap();
            for required in schema["required"].as_array().unwrap() {
                assert!(
                    properties.contains_key(required.as_str().unwrap()),
                    "{}",
                    tool.name()
                );
            }
            assert!(tool.description().contains("workspace"), "{}", tool.name());
        }
    }

    #[test]
    fn schemas_list_exactly_the_arguments_the_parser_accepts() {
        // An argument the schema offers must parse; one it does not must not.
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(base.path(), "w").unwrap();
        for tool in BuiltinTool::ALL {
            let schema = tool.parameters();
            let mut args = serde_json::Map::new();
            for (name, spec) in schema["properties"].as_object().unwrap() {
                let value = match spec["type"].as_str().unwrap() {
                    "string" => json!("a"),
                    "boolean" => json!(false),
                    "integer" => json!(1),
                    other => panic!("unexpected type {other}"),
                };
                args.insert(name.clone(), value);
            }
            if let Some(new) = args.get_mut("new_string") {
                *new = json!("b");
            }
            assert!(
                tool.parse(&Value::Object(args.clone())).is_ok(),
                "{}",
                tool.name()
            );
            args.insert("extra".to_owned(), json!(1));
            assert!(tool.parse(&Value::Object(args)).is_err(), "{}", tool.name());
        }
        drop(ws);
    }

    #[tokio::test]
    async fn run_dispatches_to_the_tool() {
        let base = tempfile::tempdir().unwrap();
        let ws = Workspace::open(base.path(), "w").unwrap();
        let limits = ToolLimits::default();
        BuiltinTool::WriteFile
            .run(&ws, &json!({"path": "a.txt", "content": "hi\n"}), &limits)
            .await
            .unwrap();
        let out = BuiltinTool::ReadFile
            .run(&ws, &json!({"path": "a.txt"}), &limits)
            .await
            .unwrap();
        assert_eq!(out.text, "hi\n");
        let error = BuiltinTool::ReadFile
            .run(&ws, &json!({"path": 3}), &limits)
            .await
            .unwrap_err();
        assert_eq!(error.code(), "invalid_arguments");
    }
}
