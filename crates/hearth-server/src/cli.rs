//! The `hearth` command line: `serve`, and local administration that works
//! on the database directly as the instance owner.
//!
//! Administration through the CLI is for the operator of the machine (who
//! can read the database anyway). A running server sees CLI changes within
//! `auth.cache_ttl_secs`; changes through the admin API apply at once.

use crate::config::Config;
use crate::serve::{shutdown_signal, start};
use crate::telemetry::init_logging;
use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use hearth_engine::admin::{ListKeys, ListUsers};
use hearth_engine::{CallContext, Engine};
use hearth_security::{AuthOptions, Authenticator, keys};
use hearth_store::{Store, StoreOptions};
use hearth_types::Role;
use hearth_types::admin::{
    ApiKeyView, CreateApiKey, CreateOrg, CreatedApiKey, OrgView, UpdateUser, UserView,
};
use hearth_types::id::{IdKind, new_id};
use serde::Serialize;
use std::path::PathBuf;
use std::process::ExitCode;

/// Env var whose value becomes the owner's API key on first start.
pub const ADMIN_KEY_ENV: &str = "HEARTH_ADMIN_KEY";

#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth: a self-hosted AI platform server"
)]
struct Cli {
    /// TOML config file.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (overrides the config).
        #[arg(long, value_name = "ADDR")]
        listen: Option<String>,
    },
    /// Manage organisations.
    #[command(subcommand)]
    Orgs(OrgsCommand),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Check the audit log's hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
}

#[derive(Debug, Subcommand)]
enum OrgsCommand {
    /// Create an organisation.
    Create { name: String },
    /// List organisations.
    List,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user.
    Create {
        #[arg(long)]
        email: String,
        /// owner, admin, member or viewer.
        #[arg(long, default_value = "member")]
        role: Role,
        /// Organisation id (default: the default organisation).
        #[arg(long)]
        org: Option<String>,
    },
    /// List users of an organisation.
    List {
        #[arg(long)]
        org: Option<String>,
    },
    /// Change a user's role or disable/enable them.
    Update(UpdateUserArgs),
}

#[derive(Debug, Args)]
struct UpdateUserArgs {
    id: String,
    #[arg(long)]
    role: Option<Role>,
    #[arg(long, conflicts_with = "enable")]
    disable: bool,
    #[arg(long)]
    enable: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create an API key for a user (by id, or by email in --org).
    Create {
        #[arg(long, conflicts_with = "email", required_unless_present = "email")]
        user: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        org: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Days until the key expires.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List API keys.
    List {
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke an API key by id.
    Revoke { id: String },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Recompute every hash of the audit chain.
    Verify,
}

/// Runs the CLI; the process exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // Requests are served by `serve`'s own worker threads; this runtime
    // runs the commands and, under `serve`, the background work.
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let config = Config::load(cli.config.as_deref(), std::env::vars(), listen.as_deref())?;
    let admin_key = std::env::var(ADMIN_KEY_ENV).ok().filter(|k| !k.is_empty());
    // Checked again by the bootstrap; here so that a bad key fails before
    // anything touches (or creates) the database.
    if let Some(key) = &admin_key
        && key.chars().count() < keys::MIN_SECRET_LEN
    {
        anyhow::bail!(
            "{ADMIN_KEY_ENV} must be at least {} characters",
            keys::MIN_SECRET_LEN
        );
    }
    init_logging(config.log_format);
    match cli.command {
        Command::Serve { .. } => serve(config, admin_key).await,
        Command::Orgs(cmd) => admin(config, admin_key, |ops| Box::pin(ops.orgs(cmd))).await,
        Command::Users(cmd) => admin(config, admin_key, |ops| Box::pin(ops.users(cmd))).await,
        Command::Keys(cmd) => admin(config, admin_key, |ops| Box::pin(ops.keys(cmd))).await,
        Command::Audit(AuditCommand::Verify) => {
            admin(config, admin_key, |ops| Box::pin(ops.verify())).await
        }
    }
}

async fn serve(config: Config, admin_key: Option<String>) -> anyhow::Result<()> {
    let running = start(config, admin_key).await?;
    if let Some(boot) = &running.bootstrapped {
        eprintln!(
            "Bootstrapped organisation '{}' with owner {}.",
            boot.org.name, boot.owner.email
        );
        if let Some(secret) = &boot.generated_secret {
            eprintln!("Owner API key (shown only once; store it now):\n\n    {secret}\n");
        }
    }
    eprintln!("Hearth listening on http://{}", running.addr);
    let token = running.shutdown_token();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutdown requested; finishing in-flight requests");
        token.cancel();
    });
    running.wait().await
}

/// What a CLI admin command gets: the engine and the operator principal.
struct Ops {
    engine: Engine,
    actor: hearth_security::Principal,
    call: CallContext,
    store: Store,
}

type OpFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + 'a>>;

async fn admin(
    config: Config,
    admin_key: Option<String>,
    op: impl for<'a> FnOnce(&'a Ops) -> OpFuture<'a>,
) -> anyhow::Result<()> {
    let store = Store::connect(&StoreOptions {
        url: config.database.url.clone(),
        max_connections: 2,
    })
    .await
    .context("cannot open the database")?;
    let auth = Authenticator::new(store.clone(), &AuthOptions::default());
    // Administration never calls a model: no catalogue, a private limiter.
    let limiter = std::sync::Arc::new(hearth_security::ratelimit::Limiter::Local(
        hearth_security::ratelimit::LocalLimiter::default(),
    ));
    let catalog = std::sync::Arc::new(hearth_engine::gateway::Catalog::default());
    let engine = crate::app::engine(&store, &auth, limiter.clone(), catalog.clone(), &config);
    if let Some(boot) = engine.bootstrap(admin_key.as_deref()).await? {
        eprintln!("Bootstrapped organisation '{}'.", boot.org.name);
        if let Some(secret) = boot.generated_secret {
            eprintln!("Owner API key (shown only once; store it now):\n\n    {secret}\n");
        }
    }
    let actor = auth.operator().await.context("no instance owner")?;
    let call = CallContext {
        request_id: new_id(IdKind::Request),
        method: "CLI".to_owned(),
        path: std::env::args().skip(1).collect::<Vec<_>>().join(" "),
        client_addr: None,
        user_agent: Some(format!("hearth-cli/{}", env!("CARGO_PKG_VERSION"))),
    };
    let ops = Ops {
        engine,
        actor,
        call,
        store: store.clone(),
    };
    let result = op(&ops).await;
    store.close().await;
    result
}

fn print<T: Serialize>(value: &T) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

impl Ops {
    async fn orgs(&self, cmd: OrgsCommand) -> anyhow::Result<()> {
        match cmd {
            OrgsCommand::Create { name } => {
                let req = CreateOrg {
                    name,
                    requests_per_minute: None,
                    tokens_per_minute: None,
                    allowed_models: None,
                };
                let org = self.engine.create_org(&self.actor, &self.call, req).await?;
                print(&OrgView::from(&org))
            }
            OrgsCommand::List => {
                let orgs = self.engine.list_orgs(&self.actor).await?;
                print(&orgs.iter().map(OrgView::from).collect::<Vec<_>>())
            }
        }
    }

    async fn users(&self, cmd: UsersCommand) -> anyhow::Result<()> {
        match cmd {
            UsersCommand::Create { email, role, org } => {
                let what = format!("cannot create user {email}");
                let req = hearth_types::admin::CreateUser {
                    email,
                    role,
                    org_id: org,
                };
                let user = self
                    .engine
                    .create_user(&self.actor, &self.call, req)
                    .await
                    .context(what)?;
                print(&UserView::from(&user))
            }
            UsersCommand::List { org } => {
                let mut all = Vec::new();
                let mut after = None;
                loop {
                    let query = ListUsers {
                        org_id: org.clone(),
                        after: after.take(),
                        limit: Some(hearth_engine::admin::MAX_PAGE),
                    };
                    let (users, more) = self.engine.list_users(&self.actor, query).await?;
                    after = users.last().map(|u| u.id.clone());
                    all.extend(users.iter().map(UserView::from));
                    if !more {
                        break;
                    }
                }
                print(&all)
            }
            UsersCommand::Update(args) => {
                let disabled = match (args.disable, args.enable) {
                    (true, _) => Some(true),
                    (_, true) => Some(false),
                    _ => None,
                };
                let req = UpdateUser {
                    role: args.role,
                    disabled,
                };
                let user = self
                    .engine
                    .update_user(&self.actor, &self.call, &args.id, req)
                    .await
                    .with_context(|| format!("cannot update user {}", args.id))?;
                print(&UserView::from(&user))
            }
        }
    }

    async fn keys(&self, cmd: KeysCommand) -> anyhow::Result<()> {
        match cmd {
            KeysCommand::Create {
                user,
                email,
                org,
                name,
                expires_in_days,
            } => {
                let user_id = match (user, email) {
                    (Some(id), _) => id,
                    (None, Some(email)) => {
                        let org_id = match org {
                            Some(o) => o,
                            None => self.actor.org_id().to_owned(),
                        };
                        self.store
                            .find_user_by_email(&org_id, &email.trim().to_lowercase())
                            .await?
                            .with_context(|| format!("no user {email} in organisation {org_id}"))?
                            .id
                    }
                    (None, None) => anyhow::bail!("pass --user ID or --email EMAIL"),
                };
                let expires_at = expires_in_days
                    .map(|days| hearth_types::time::now_millis() / 1000 + i64::from(days) * 86_400);
                let req = CreateApiKey {
                    user_id,
                    name,
                    expires_at,
                    requests_per_minute: None,
                };
                let user_id = req.user_id.clone();
                let (key, secret) = self
                    .engine
                    .create_api_key(&self.actor, &self.call, req)
                    .await
                    .with_context(|| format!("cannot create a key for user {user_id}"))?;
                print(&CreatedApiKey {
                    view: ApiKeyView::from(&key),
                    key: secret,
                })
            }
            KeysCommand::List { user, org } => {
                let mut all = Vec::new();
                let mut after = None;
                loop {
                    let query = ListKeys {
                        org_id: org.clone(),
                        user_id: user.clone(),
                        after: after.take(),
                        limit: Some(hearth_engine::admin::MAX_PAGE),
                    };
                    let (keys, more) = self.engine.list_api_keys(&self.actor, query).await?;
                    after = keys.last().map(|k| k.id.clone());
                    all.extend(keys.iter().map(ApiKeyView::from));
                    if !more {
                        break;
                    }
                }
                print(&all)
            }
            KeysCommand::Revoke { id } => {
                let key = self
                    .engine
                    .revoke_api_key(&self.actor, &self.call, &id)
                    .await
                    .with_context(|| format!("cannot revoke key {id}"))?;
                print(&ApiKeyView::from(&key))
            }
        }
    }

    async fn verify(&self) -> anyhow::Result<()> {
        let report = self.store.verify_audit_chain().await?;
        print(&report)?;
        if report.valid {
            Ok(())
        } else {
            anyhow::bail!("the audit chain is broken")
        }
    }
}
