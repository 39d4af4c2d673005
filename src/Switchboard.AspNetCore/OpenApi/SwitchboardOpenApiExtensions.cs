using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Switchboard.AspNetCore.Http;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;
using Switchboard.AspNetCore.OpenApi;

namespace Switchboard.AspNetCore;

/// <summary>The hub's OpenAPI document, built by <c>Microsoft.AspNetCore.OpenApi</c> from the mapped routes.</summary>
public static class SwitchboardOpenApiExtensions
{
    /// <summary>The document's name; it is served at <c>/openapi/v1.json</c>.</summary>
    public const string DocumentName = "v1";

    /// <summary>Registers the OpenAPI document of the routes <c>MapSwitchboard</c> maps.</summary>
    public static IServiceCollection AddSwitchboardOpenApi(this IServiceCollection services) =>
        services.AddOpenApi(DocumentName, options =>
        {
            options.ShouldInclude = description => HeadRequests.Describes(description) && (description.GroupName is null || string.Equals(description.GroupName, DocumentName, StringComparison.OrdinalIgnoreCase));
            options.AddDocumentTransformer(SwitchboardDocument.DescribeAsync);
            options.AddSchemaTransformer(SwitchboardDocument.TightenAsync);
        });

    /// <summary>Serves the document at <c>/openapi/v1.json</c>, without credentials (it describes, it holds no data).</summary>
    public static IEndpointConventionBuilder MapSwitchboardOpenApi(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapOpenApi("/openapi/{documentName}.json").AnswerHead();
}

/// <summary>What the route metadata cannot say: the API's title, its credentials and its query parameters.</summary>
internal static class SwitchboardDocument
{
    public const string BearerScheme = "bearer";
    public const string QueryTokenScheme = "queryToken";

    public static Task DescribeAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info = new OpenApiInfo
        {
            Title = "Switchboard",
            Version = "v1",
            Description = "A real-time event hub: publish events to topics; read them by short or long polling, Server-Sent Events, "
                + "WebSocket or signed webhooks, all from one durable log. Every answer that fails is problem+json with a stable `code`. "
                + "See docs/protocol.md for the wire protocol, cursors and resets.",
        };

        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[BearerScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.Http,
            Scheme = "bearer",
            Description = "An API key (sk_…, scopes publish, subscribe, worker, admin) or a subscriber token (a JWT with sub, subscribe, publish and presence claims). "
                + "A hub with neither configured is open on loopback and needs no credential.",
        };
        document.Components.SecuritySchemes[QueryTokenScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Query,
            Name = "access_token",
            Description = "The same credential as a query parameter, for EventSource and WebSocket clients in browsers, which cannot set headers.",
        };

        // Either credential, or none on an open hub.
        document.Security =
        [
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(BearerScheme, document)] = [] },
            new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(QueryTokenScheme, document)] = [] },
            new OpenApiSecurityRequirement(),
        ];
        AddRequestDelegateEndpoints(document, context.ApplicationServices);
        foreach (var schema in document.Components.Schemas?.Values ?? [])
        {
            NullableAsAnyOf(schema);
        }

        return Task.CompletedTask;
    }

    /// <summary>
    /// Routes mapped as middleware branches (the Prometheus scrape) have no handler for the generator to read, so they
    /// are added by name: a GET answering text.
    /// </summary>
    private static void AddRequestDelegateEndpoints(OpenApiDocument document, IServiceProvider services)
    {
        document.Paths ??= [];
        foreach (var endpoint in services.GetServices<EndpointDataSource>().SelectMany(source => source.Endpoints).OfType<RouteEndpoint>())
        {
            var metadata = endpoint.Metadata;
            if (metadata.GetMetadata<IEndpointNameMetadata>() is not { } name || metadata.GetMetadata<System.Reflection.MethodInfo>() is not null
                || metadata.GetMetadata<IExcludeFromDescriptionMetadata>() is { ExcludeFromDescription: true })
            {
                continue;
            }

            var path = "/" + endpoint.RoutePattern.RawText!.Trim('/');
            if (document.Paths.ContainsKey(path))
            {
                continue;
            }

            var operation = new OpenApiOperation
            {
                OperationId = name.EndpointName,
                Summary = metadata.GetMetadata<IEndpointSummaryMetadata>()?.Summary,
                Responses = new OpenApiResponses
                {
                    ["200"] = new OpenApiResponse { Description = "OK", Content = new Dictionary<string, OpenApiMediaType> { ["text/plain"] = new() } },
                },
            };
            document.Paths[path] = new OpenApiPathItem { Operations = new Dictionary<HttpMethod, OpenApiOperation> { [HttpMethod.Get] = operation } };
        }
    }

    /// <summary>
    /// The generator writes "null, or this" as oneOf. An any-JSON member (event data, job input) matches null too, so a
    /// null would match both and fail oneOf; anyOf says what is meant.
    /// </summary>
    private static void NullableAsAnyOf(IOpenApiSchema schema)
    {
        if (schema is not OpenApiSchema concrete)
        {
            return;
        }

        if (concrete.OneOf is { Count: 2 } members && members.Any(m => m.Type == JsonSchemaType.Null))
        {
            concrete.AnyOf = members;
            concrete.OneOf = null;
        }

        foreach (var property in concrete.Properties?.Values ?? [])
        {
            NullableAsAnyOf(property);
        }

        if (concrete.Items is { } items)
        {
            NullableAsAnyOf(items);
        }
    }

    /// <summary>
    /// Describes the wire as the hub writes it: numbers are JSON numbers (the web defaults would also admit numeric
    /// strings, which the hub reads but never writes), and a member that may be null or absent is not required.
    /// </summary>
    public static Task TightenAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (schema.Type is { } type && type.HasFlag(JsonSchemaType.String) && (type.HasFlag(JsonSchemaType.Integer) || type.HasFlag(JsonSchemaType.Number)))
        {
            schema.Type = type & ~JsonSchemaType.String;
            schema.Pattern = null;
        }

        var attributes = context.JsonPropertyInfo?.AttributeProvider;
        if (attributes?.IsDefined(typeof(NeverNullAttribute), inherit: false) == true && schema.Type is { } refused)
        {
            schema.Type = refused & ~JsonSchemaType.Null;
        }
        else if (attributes?.IsDefined(typeof(NullClearsAttribute), inherit: false) == true && schema.Type is { } accepted)
        {
            schema.Type = accepted | JsonSchemaType.Null;
        }

        if (schema.Required is { Count: > 0 } required)
        {
            foreach (var property in context.JsonTypeInfo.Properties)
            {
                if (property.IsGetNullable || Nullable.GetUnderlyingType(property.PropertyType) is not null)
                {
                    required.Remove(property.Name);
                }
            }
        }

        return Task.CompletedTask;
    }
}

/// <summary>
/// A request DTO member that may be absent but is refused when null. Its CLR type is nullable only because absence reads
/// as null, so the document would otherwise say null is accepted.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class NeverNullAttribute : Attribute;

/// <summary>
/// A request DTO member of an object type for which null is an answer (it clears the setting). The generator writes an
/// inline object without null, so the document would otherwise say null is refused.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
internal sealed class NullClearsAttribute : Attribute;

/// <summary>Route-builder shorthands for the API's contract.</summary>
internal static class ApiContractConventions
{
    public const string Json = "application/json";
    public const string ProblemJson = "application/problem+json";
    public const string EventStream = "text/event-stream";

    /// <summary>The problems every API route may answer: bad credentials, rate limits and store faults.</summary>
    public static TBuilder WithCommonProblems<TBuilder>(this TBuilder builder)
        where TBuilder : IEndpointConventionBuilder
    {
        foreach (var status in new[] { 401, 403, 429, 503, 507 })
        {
            builder.WithMetadata(new ProducesResponseTypeMetadata(status, typeof(ProblemContract), [ProblemJson]));
        }

        return builder;
    }

    /// <summary>Problem answers particular to a route.</summary>
    public static RouteHandlerBuilder Problems(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.Produces<ProblemContract>(status, ProblemJson);
        }

        return builder;
    }

    /// <summary>
    /// A request body of the given shape. Written into the document rather than declared with <c>Accepts</c>, whose
    /// metadata routing also enforces: a body-less claim or a publish without a content type would become a 405.
    /// Every body is read within a size limit (413) and uncompressed only (415 for a Content-Encoding), so each such
    /// route may answer both.
    /// </summary>
    public static RouteHandlerBuilder AcceptsJson<T>(this RouteHandlerBuilder builder, bool optional = false, params string[] contentTypes) =>
        builder.Problems(413, 415).AddOpenApiOperationTransformer(async (operation, context, cancellationToken) =>
        {
            IOpenApiSchema schema = await context.GetOrCreateSchemaAsync(typeof(T), null, cancellationToken);
            if (!typeof(T).IsArray && typeof(T) != typeof(System.Text.Json.JsonElement) && context.Document is { } document)
            {
                document.AddComponent(typeof(T).Name, schema);
                schema = new OpenApiSchemaReference(typeof(T).Name, document);
            }

            operation.RequestBody = new OpenApiRequestBody
            {
                Required = !optional,
                Content = (contentTypes.Length == 0 ? [Json] : contentTypes).ToDictionary(type => type, _ => new OpenApiMediaType { Schema = schema }),
            };
        });

    /// <summary>Query parameters the handler reads from the request itself.</summary>
    public static RouteHandlerBuilder Query(this RouteHandlerBuilder builder, params (string Name, string Description)[] parameters) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            foreach (var (name, description) in parameters)
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = name,
                    In = ParameterLocation.Query,
                    Description = description,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }

            return Task.CompletedTask;
        });

    /// <summary>
    /// Request headers the handler reads from the request itself. The generator sees only bound parameters, so without
    /// these the document said nothing of Idempotency-Key, the preconditions or Last-Event-ID, and a client generated
    /// from it could not send them.
    /// </summary>
    public static RouteHandlerBuilder RequestHeaders(this RouteHandlerBuilder builder, params (string Name, string Description)[] headers) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Parameters ??= [];
            foreach (var (name, description) in headers)
            {
                operation.Parameters.Add(new OpenApiParameter
                {
                    Name = name,
                    In = ParameterLocation.Header,
                    Description = description,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String },
                });
            }

            return Task.CompletedTask;
        });

    /// <summary>A response whose body the route streams or sends as is, described in words.</summary>
    public static RouteHandlerBuilder Describe(this RouteHandlerBuilder builder, int status, string description) =>
        builder.AddOpenApiOperationTransformer((operation, _, _) =>
        {
            operation.Responses ??= [];
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (operation.Responses.TryGetValue(key, out var response) && response is OpenApiResponse concrete)
            {
                concrete.Description = description;
            }
            else
            {
                operation.Responses[key] = new OpenApiResponse { Description = description };
            }

            return Task.CompletedTask;
        });
}
