/** Real-shape exceptions per class and language (as Sentry's SDKs report them). */
import type { SentryFake } from "@byteport/cloud/testing"

type Case = { readonly platform: string; readonly exception: SentryFake.ExceptionSpec; readonly breadcrumbs?: ReadonlyArray<SentryFake.BreadcrumbSpec> }

export const dbConnection: Record<"javascript" | "python" | "java" | "go", Case> = {
  javascript: { platform: "node", exception: { type: "Error", value: "connect ECONNREFUSED 10.0.4.12:5432", frames: [{ filename: "node_modules/pg/lib/client.js", function: "Client._connectionCallback" }, { filename: "src/db.ts", function: "getOrders", module: "db" }] } },
  python: { platform: "python", exception: { type: "OperationalError", module: "psycopg2", value: "connection to server at \"db.internal\" (10.0.4.12), port 5432 failed: FATAL:  sorry, too many clients already", frames: [{ module: "django.db.backends.base.base", function: "connect" }, { module: "shop.views", function: "checkout" }] } },
  java: { platform: "java", exception: { type: "CannotGetJdbcConnectionException", module: "org.springframework.jdbc", value: "Failed to obtain JDBC Connection; nested exception is java.sql.SQLTransientConnectionException: HikariPool-1 - Connection is not available, request timed out after 30000ms.", frames: [{ module: "com.zaxxer.hikari.pool.HikariPool", function: "createTimeoutException" }, { module: "com.acme.shop.OrderRepository", function: "findAll" }] } },
  go: { platform: "go", exception: { type: "*pgconn.PgError", value: "FATAL: remaining connection slots are reserved for non-replication superuser connections (SQLSTATE 53300)", frames: [{ module: "github.com/jackc/pgx/v5/pgconn", function: "connect" }, { module: "acme.dev/shop/store", function: "(*Store).Orders" }] } }
}

export const oom: Record<"javascript" | "python" | "java" | "go", Case> = {
  javascript: { platform: "node", exception: { type: "Error", value: "FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory" } },
  python: { platform: "python", exception: { type: "MemoryError", value: "", frames: [{ module: "pandas.core.frame", function: "merge" }, { module: "reports.monthly", function: "build" }] } },
  java: { platform: "java", exception: { type: "OutOfMemoryError", module: "java.lang", value: "Java heap space", frames: [{ module: "java.util.Arrays", function: "copyOf" }, { module: "com.acme.shop.ReportService", function: "render" }] } },
  go: { platform: "go", exception: { type: "panic", value: "fatal error: runtime: out of memory", frames: [{ module: "runtime", function: "throw" }, { module: "acme.dev/shop/report", function: "Build" }] } }
}

export const upstream5xx: Record<"javascript" | "python" | "java" | "go", Case> = {
  javascript: { platform: "node", exception: { type: "AxiosError", value: "Request failed with status code 502", frames: [{ filename: "src/payments.ts", function: "charge", module: "payments" }] } },
  python: { platform: "python", exception: { type: "HTTPError", module: "requests.exceptions", value: "503 Server Error: Service Unavailable for url: https://payments.internal/v1/charge", frames: [{ module: "requests.models", function: "raise_for_status" }] } },
  java: { platform: "java", exception: { type: "HttpServerErrorException$BadGateway", module: "org.springframework.web.client", value: "502 Bad Gateway: [no body]", frames: [{ module: "org.springframework.web.client.RestTemplate", function: "doExecute" }] } },
  go: {
    platform: "go",
    exception: { type: "*errors.errorString", value: "payments: charge failed", frames: [{ module: "acme.dev/shop/payments", function: "Charge" }] },
    breadcrumbs: [{ type: "http", category: "http", data: { method: "POST", url: "https://payments.internal/v1/charge", status_code: 504 } }]
  }
}

/** A TypeError with nothing but its timing to go on (deploy_correlation when first seen after a deploy, else unknown). */
export const regression: Case = { platform: "javascript", exception: { type: "TypeError", value: "Cannot read properties of undefined (reading 'price')", frames: [{ filename: "src/cart.ts", function: "total", module: "cart" }] }, breadcrumbs: [{ type: "http", category: "fetch", data: { method: "GET", url: "/api/cart", status_code: 200 } }] }

export const novel: Case = { platform: "python", exception: { type: "ValueError", value: "invalid literal for int() with base 10: 'abc'", frames: [{ module: "shop.forms", function: "clean_quantity" }] } }
