// @vitest-environment happy-dom
import { afterEach, expect, describe as group, test, vi } from "vitest";
import type { Category } from "../src/contract.generated.js";
import { registerCopy } from "../src/contract.js";
import { copy as fr } from "../src/copy/fr.generated.js";
import { describe } from "../src/describe.js";
import type { HiccupErrorInit } from "../src/errors/hiccup-error.js";
import { NetworkError } from "../src/errors/network-error.js";
import { ResponseError } from "../src/errors/response-error.js";
import { codeWords, genericWords } from "./support/contract.js";

function failure(init: Partial<HiccupErrorInit> & { readonly title?: string } = {}) {
  const { title = "Dependency unavailable", ...rest } = init;
  const problem = { title, detail: "database at 10.0.0.7 refused the connection" };

  return new ResponseError("GET /drafts: 503 DEPENDENCY_UNAVAILABLE (stack: db.py:12)", {
    code: "DEPENDENCY_UNAVAILABLE",
    category: "unavailable",
    status: 503,
    method: "GET",
    url: "https://api.example/drafts",
    retry: { auto: true, user: true, afterMs: undefined },
    response: new Response(null, { status: 503 }),
    problem,
    ...rest,
  });
}

function prefer(...languages: string[]): void {
  vi.spyOn(navigator, "languages", "get").mockReturnValue(languages);
}

afterEach(() => {
  vi.restoreAllMocks();
});

group("describe, by the bundled contract", () => {
  test("gives the code's copy in the source locale", () => {
    const words = describe(failure(), "en");
    const expected = codeWords("DEPENDENCY_UNAVAILABLE", "en");

    expect(words).toEqual({
      title: expected.title,
      message: expected.message,
      action: expected.action,
      suggestions: expected.suggestions ?? [],
      locale: "en",
    });
  });

  test("renders the code's params into its copy, plurals included", () => {
    const limited = failure({
      code: "RATE_LIMITED",
      category: "rate_limited",
      params: { seconds: 1 },
    });

    expect(describe(limited, "en").message).toContain("You can try again in 1 second.");
    expect(
      describe(failure({ code: "RATE_LIMITED", params: { seconds: 30 } }), "en").message,
    ).toContain("in 30 seconds.");
  });

  test("gives a registered locale's copy, from its most specific tag down", () => {
    registerCopy(fr);

    const words = describe(failure(), "fr-CA");

    expect([words.title, words.locale]).toEqual([
      codeWords("DEPENDENCY_UNAVAILABLE", "fr").title,
      "fr",
    ]);
  });

  test("falls back to the source locale for a locale without registered copy", () => {
    const words = describe(failure(), "de-AT");

    expect([words.title, words.locale]).toEqual([
      codeWords("DEPENDENCY_UNAVAILABLE", "en").title,
      "en",
    ]);
  });

  test("uses the locale of the client that raised the error when none is given", () => {
    registerCopy(fr);

    expect(describe(failure({ locale: "fr" })).locale).toBe("fr");
  });

  test("gives markup in a param back as text", () => {
    const words = describe(
      failure({
        code: "MODEL_UNAVAILABLE",
        category: "unavailable",
        params: { model: "<img src=x onerror=alert(1)>" },
      }),
      "en",
    );

    expect(words.message).toContain("<img src=x onerror=alert(1)>");
  });
});

group("describe, negotiating the locale", () => {
  test("takes the first of the browser's languages that has registered copy", () => {
    registerCopy(fr);
    prefer("de-DE", "fr-BE", "en");

    expect(describe(failure()).locale).toBe("fr");
  });

  test("takes the source locale when none of the browser's languages has copy", () => {
    prefer("de-DE", "ja");

    expect(describe(failure()).locale).toBe("en");
  });

  test("takes the source locale when the browser lists no languages", () => {
    prefer();

    expect(describe(failure()).locale).toBe("en");
  });
});

group("describe, by the server's copy", () => {
  test("gives the copy the server rendered for a code this build does not know", () => {
    const user = {
      locale: "fr",
      title: "Pause",
      message: "Le service ACME fait une pause.",
      action: "OK",
    };

    const words = describe(failure({ code: "ACME_PAUSED", user }), "en");

    expect(words).toEqual({ ...user, suggestions: [], locale: "fr" });
  });

  test("prefers the bundled contract for a code it knows", () => {
    const user = { locale: "en", title: "Server words", message: "From the server." };

    expect(describe(failure({ user }), "en").title).toBe(
      codeWords("DEPENDENCY_UNAVAILABLE", "en").title,
    );
  });
});

group("describe, by category", () => {
  test("gives the generic copy of the category for an unknown code without server copy", () => {
    const words = describe(failure({ code: "ACME_PAUSED", category: "unavailable" }), "en");

    expect([words.title, words.message]).toEqual([
      genericWords("unavailable", "en").title,
      genericWords("unavailable", "en").message,
    ]);
  });

  test("gives the generic copy for internal failures for a category this build does not know", () => {
    const odd = failure({ code: "ACME_PAUSED", category: "acme_trouble" as Category });

    expect(describe(odd, "en").title).toBe(genericWords("internal", "en").title);
  });

  test("gives the generic copy for internal failures for a value that is not a HiccupError", () => {
    const words = describe(
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      "en",
    );

    expect(words.title).toBe(genericWords("internal", "en").title);
    expect(JSON.stringify(words)).not.toContain("Cannot read");
  });

  test("gives network copy for a network failure", () => {
    const offline = new NetworkError("GET /drafts: no response", {
      code: "NETWORK_OFFLINE",
      category: "network",
      status: 0,
      method: "GET",
      url: "https://api.example/drafts",
      retry: { auto: true, user: true, afterMs: undefined },
    });

    expect(describe(offline, "en").title).toBe(codeWords("NETWORK_OFFLINE", "en").title);
  });
});

group("describe, never", () => {
  test("shows the error's message, the problem's title or its detail", () => {
    const text = JSON.stringify(describe(failure({ title: "Dependency unavailable" }), "en"));

    expect(text).not.toContain("stack");
    expect(text).not.toContain("10.0.0.7");
    expect(text).not.toContain("Dependency unavailable");
  });
});
