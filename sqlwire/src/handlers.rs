//! The protocol's handlers: signing in with an access token, and statements planned and run
//! read-only in the session of the token's sectors.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::execution::context::SQLOptions;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{Set, Statement as SqlStatement};
use datafusion_postgres::QueryHook;
use datafusion_postgres::arrow_pg::datatypes::df::{
    deserialize_parameters_with_server_types, encode_dataframe,
};
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, into_pg_type};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::hooks::set_show::SetShowHook;
use datafusion_postgres::hooks::transactions::TransactionStatementHook;
use datafusion_postgres::pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{FieldInfo, Response, Tag};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ErrorHandler, METADATA_USER, PgWireConnectionState,
    PgWireServerHandlers, PidSecretKeyGenerator, RandomPidSecretKeyGenerator, Type,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::Authentication;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures::{Sink, SinkExt};

use crate::TokenLookup;
use crate::limits::{Limits, TimedOut, TooManyRows};
use crate::sessions::{Sessions, server_version};

/// A parsed statement with its plan, as kept between Parse, Bind and Execute.
type Prepared = (String, Option<(SqlStatement, LogicalPlan)>);

/// Connection metadata: the signed-in token's name.
const TOKEN_KEY: &str = "tilannekuva.token";
/// Connection metadata: the token's sectors, comma-separated, or `*` for every sector.
const SECTORS_KEY: &str = "tilannekuva.sectors";

pub(crate) struct Handlers {
    queries: Arc<Queries>,
    sign_in: Arc<TokenSignIn>,
}

impl Handlers {
    pub(crate) fn new(sessions: Sessions, tokens: TokenLookup, limits: Limits) -> Self {
        let shared = Arc::new(Shared {
            sessions,
            limits,
            sql: PostgresCompatibilityParser::new(),
            hooks: vec![Arc::new(SetShowHook), Arc::new(TransactionStatementHook)],
        });
        let mut parameters = DefaultServerParameterProvider::default();
        parameters.server_version = format!("16.6 ({})", server_version());
        parameters.is_superuser = false;
        parameters.default_transaction_read_only = true;
        Self {
            queries: Arc::new(Queries {
                parser: Arc::new(ScopedParser {
                    shared: shared.clone(),
                }),
                shared,
            }),
            sign_in: Arc::new(TokenSignIn {
                tokens,
                parameters,
                pids: RandomPidSecretKeyGenerator::default(),
            }),
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(&self) -> Arc<impl SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(&self) -> Arc<impl ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        self.sign_in.clone()
    }

    fn error_handler(&self) -> Arc<impl ErrorHandler> {
        Arc::new(LogErrors)
    }
}

struct LogErrors;

impl ErrorHandler for LogErrors {
    fn on_error<C>(&self, client: &C, error: &mut PgWireError)
    where
        C: ClientInfo,
    {
        let token = client.metadata().get(TOKEN_KEY).map_or("-", String::as_str);
        tracing::debug!(token, error = %error, "PostgreSQL client: statement failed");
    }
}

/// Cleartext password sign-in where the password is an access token. (Clients send it in
/// the clear: put TLS in front, or keep the listener on a private network.)
struct TokenSignIn {
    tokens: TokenLookup,
    parameters: DefaultServerParameterProvider,
    pids: RandomPidSecretKeyGenerator,
}

#[async_trait]
impl StartupHandler for TokenSignIn {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(
                        Authentication::CleartextPassword,
                    ))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(password) => {
                let password = password.into_password()?;
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let peer = client.socket_addr();
                let Some(token) = (self.tokens)(&password.password) else {
                    tracing::warn!(%peer, user, "PostgreSQL sign-in refused: unknown token");
                    return Err(PgWireError::InvalidPassword(user));
                };
                let sectors = if token.sectors.is_empty() {
                    "*".to_string()
                } else {
                    token.sectors.join(",")
                };
                tracing::info!(%peer, user, token = token.name, sectors, "PostgreSQL client signed in");
                client
                    .metadata_mut()
                    .insert(TOKEN_KEY.into(), token.name.clone());
                client.metadata_mut().insert(SECTORS_KEY.into(), sectors);
                let (pid, secret) = self.pids.generate(&*client);
                client.set_pid_and_secret_key(pid, secret);
                finish_authentication(client, &self.parameters).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// What the simple and the extended protocol share.
struct Shared {
    sessions: Sessions,
    limits: Limits,
    sql: PostgresCompatibilityParser,
    hooks: Vec<Arc<dyn QueryHook>>,
}

fn user_error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message.into(),
    )))
}

/// A DataFusion error as the client reads it: the limits with their own SQLSTATE.
fn query_error(e: DataFusionError) -> PgWireError {
    let root = e.find_root();
    if let DataFusionError::External(inner) = root {
        if inner.downcast_ref::<TimedOut>().is_some() {
            return user_error("57014", inner.to_string());
        }
        if inner.downcast_ref::<TooManyRows>().is_some() {
            return user_error("54000", inner.to_string());
        }
    }
    user_error("42000", e.to_string())
}

/// Refuses, before planning, every statement that is not a query, an `EXPLAIN` or a `SHOW`;
/// the plan is checked again by DataFusion's own rules.
fn only_reads(statement: &SqlStatement) -> PgWireResult<()> {
    match statement {
        SqlStatement::Query(_)
        | SqlStatement::Explain { .. }
        | SqlStatement::ExplainTable { .. }
        | SqlStatement::ShowFunctions { .. }
        | SqlStatement::ShowVariable { .. }
        | SqlStatement::ShowVariables { .. }
        | SqlStatement::ShowColumns { .. }
        | SqlStatement::ShowTables { .. }
        | SqlStatement::ShowViews { .. }
        | SqlStatement::ShowSchemas { .. }
        | SqlStatement::ShowCatalogs { .. } => Ok(()),
        other => {
            let words: Vec<String> = other
                .to_string()
                .split_whitespace()
                .take(2)
                .map(str::to_uppercase)
                .collect();
            Err(user_error(
                "25006",
                format!(
                    "this connection is read-only: {} is not allowed (queries, EXPLAIN and SHOW are)",
                    words.join(" ")
                ),
            ))
        }
    }
}

/// Statements answered without doing anything, with the tag to answer: SETs the hooks do
/// not keep on the connection (they would change the session every client of the same
/// sectors shares), and DISCARD and DEALLOCATE, which connection pools send to reset a
/// connection (this server keeps nothing to reset).
fn acknowledged(statement: &SqlStatement) -> Option<&'static str> {
    match statement {
        SqlStatement::Set(Set::SingleAssignment {
            scope: None,
            hivevar: false,
            variable,
            ..
        }) => {
            let kept = matches!(
                variable.to_string().to_lowercase().as_str(),
                "statement_timeout"
                    | "datestyle"
                    | "bytea_output"
                    | "intervalstyle"
                    | "application_name"
                    | "extra_float_digits"
                    | "search_path"
            );
            (!kept).then_some("SET")
        }
        SqlStatement::Set(Set::SetTimeZone { local: false, .. }) => None,
        SqlStatement::Set(_) => Some("SET"),
        SqlStatement::Discard { .. } => Some("DISCARD ALL"),
        SqlStatement::Deallocate { .. } => Some("DEALLOCATE"),
        _ => None,
    }
}

/// The plan of a statement that is only acknowledged: no rows, no columns.
fn empty_plan() -> LogicalPlan {
    LogicalPlan::EmptyRelation(datafusion::logical_expr::EmptyRelation {
        produce_one_row: false,
        schema: Arc::new(datafusion::common::DFSchema::empty()),
    })
}

impl Shared {
    fn parse(&self, sql: &str) -> PgWireResult<Vec<SqlStatement>> {
        self.sql
            .parse(sql)
            .map_err(|e| user_error("42601", e.to_string()))
    }

    /// The session of the signed-in token's sectors.
    async fn context<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
    ) -> PgWireResult<Arc<SessionContext>> {
        let Some(sectors) = client.metadata().get(SECTORS_KEY) else {
            return Err(user_error("28000", "not signed in"));
        };
        let sectors: Option<Vec<String>> =
            (sectors != "*").then(|| sectors.split(',').map(str::to_string).collect());
        self.sessions
            .for_sectors(sectors.as_deref())
            .await
            .map_err(|e| user_error("58000", format!("cannot read the warehouse: {e}")))
    }

    /// The statement's plan, refused unless it only reads.
    async fn plan(
        &self,
        ctx: &SessionContext,
        statement: &SqlStatement,
    ) -> PgWireResult<LogicalPlan> {
        only_reads(statement)?;
        let plan = ctx
            .state()
            .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
            .await
            .map_err(query_error)?;
        SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false)
            .verify_plan(&plan)
            .map_err(|e| {
                user_error(
                    "25006",
                    format!("this connection is read-only: {}", e.strip_backtrace()),
                )
            })?;
        Ok(plan)
    }

    async fn run<C: ClientInfo + ?Sized>(
        &self,
        client: &C,
        ctx: &SessionContext,
        plan: LogicalPlan,
        format: &Format,
    ) -> PgWireResult<Response> {
        let timeout = self.limits.timeout(client.metadata());
        let df = ctx.execute_logical_plan(plan).await.map_err(query_error)?;
        let df = self
            .limits
            .apply(ctx, df, timeout)
            .await
            .map_err(query_error)?;
        let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
        Ok(Response::Query(
            encode_dataframe(df, format, Some(options)).await?,
        ))
    }
}

/// The plan's parameters `$1`, `$2`, ... in order, with the types DataFusion inferred.
fn parameter_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let types = plan.get_parameter_types().map_err(query_error)?;
    let mut ordered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .map(|(id, t)| (id.trim_start_matches('$').parse().unwrap_or(usize::MAX), t))
        .collect();
    ordered.sort_by_key(|(i, _)| *i);
    Ok(ordered.into_iter().map(|(_, t)| t).collect())
}

fn parameter_values(portal: &Portal<Prepared>, plan: &LogicalPlan) -> PgWireResult<ParamValues> {
    let inferred = parameter_types(plan)?;
    let wire: Vec<Option<Type>> = inferred
        .iter()
        .map(|t| t.as_ref().and_then(|t| into_pg_type(t).ok()))
        .collect();
    let inferred_refs: Vec<Option<&DataType>> = inferred.iter().map(Option::as_ref).collect();
    let wire_refs: Vec<Option<&Type>> = wire.iter().map(Option::as_ref).collect();
    deserialize_parameters_with_server_types(portal, &inferred_refs, &wire_refs)
}

pub(crate) struct Queries {
    shared: Arc<Shared>,
    parser: Arc<ScopedParser>,
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = self.shared.parse(query)?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let ctx = self.shared.context(&*client).await?;
        let mut responses = Vec::with_capacity(statements.len());
        'statements: for statement in statements {
            if let Some(tag) = acknowledged(&statement) {
                tracing::debug!(%statement, "acknowledged and ignored");
                responses.push(Response::Execution(Tag::new(tag)));
                continue;
            }
            for hook in &self.shared.hooks {
                if let Some(response) = hook.handle_simple_query(&statement, &ctx, client).await {
                    responses.push(response?);
                    continue 'statements;
                }
            }
            let plan = self.shared.plan(&ctx, &statement).await?;
            responses.push(
                self.shared
                    .run(&*client, &ctx, plan, &Format::UnifiedText)
                    .await?,
            );
        }
        Ok(responses)
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Prepared;
    type QueryParser = ScopedParser;

    fn query_parser(&self) -> Arc<Self::QueryParser> {
        self.parser.clone()
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Self::Statement>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let (_, Some((statement, plan))) = &portal.statement.statement else {
            return Ok(Response::EmptyQuery);
        };
        if let Some(tag) = acknowledged(statement) {
            return Ok(Response::Execution(Tag::new(tag)));
        }
        let ctx = self.shared.context(&*client).await?;
        let params = parameter_values(portal, plan)?;
        for hook in &self.shared.hooks {
            if let Some(response) = hook
                .handle_extended_query(statement, plan, &params, &ctx, client)
                .await
            {
                return response;
            }
        }
        let plan = plan
            .clone()
            .replace_params_with_values(&params)
            .map_err(query_error)?;
        self.shared
            .run(&*client, &ctx, plan, &portal.result_column_format)
            .await
    }
}

/// Plans prepared statements in the session of the client's sectors.
pub(crate) struct ScopedParser {
    shared: Arc<Shared>,
}

#[async_trait]
impl QueryParser for ScopedParser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Self::Statement>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = self.shared.parse(sql)?;
        if statements.is_empty() {
            return Ok(None);
        }
        let statement = statements.remove(0);
        let query = statement.to_string();
        if acknowledged(&statement).is_some() {
            return Ok(Some((query, Some((statement, empty_plan())))));
        }
        let ctx = self.shared.context(client).await?;
        for hook in &self.shared.hooks {
            if let Some(plan) = hook
                .handle_extended_parse_query(&statement, &ctx, client)
                .await
            {
                return Ok(Some((query, Some((statement, plan?)))));
            }
        }
        let plan = self.shared.plan(&ctx, &statement).await?;
        Ok(Some((query, Some((statement, plan)))))
    }

    fn get_parameter_types(&self, statement: &Self::Statement) -> PgWireResult<Vec<Type>> {
        let (_, Some((_, plan))) = statement else {
            return Ok(Vec::new());
        };
        Ok(parameter_types(plan)?
            .iter()
            .map(|t| {
                t.as_ref()
                    .and_then(|t| into_pg_type(t).ok())
                    .unwrap_or(Type::UNKNOWN)
            })
            .collect())
    }

    fn get_result_schema(
        &self,
        statement: &Self::Statement,
        format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        let (_, Some((_, plan))) = statement else {
            return Ok(Vec::new());
        };
        arrow_schema_to_pg_fields(
            plan.schema().as_arrow(),
            format.unwrap_or(&Format::UnifiedText),
            None,
        )
    }
}
