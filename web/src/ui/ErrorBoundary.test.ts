// The dashboards' error boundary: an error while rendering shows a message and a reload button.
import { createElement } from "react";
import { renderToStaticMarkup } from "react-dom/server";
import { describe, expect, it } from "vitest";
import { CrashNotice, ErrorBoundary } from "./ErrorBoundary";

describe("error boundary", () => {
  it("a render error switches it to the notice", () => {
    expect(ErrorBoundary.getDerivedStateFromError()).toEqual({ failed: true });
    const b = new ErrorBoundary({ children: "dashboard" });
    expect(b.render()).toBe("dashboard");
    b.state = { failed: true };
    expect(renderToStaticMarkup(b.render() as React.ReactElement)).toBe(renderToStaticMarkup(createElement(CrashNotice, { onReload: () => {} })));
  });

  it("the notice is plain text with a reload button", () => {
    const html = renderToStaticMarkup(createElement(CrashNotice, { onReload: () => {} }));
    expect(html).toContain('role="alert"');
    expect(html).toContain("Something went wrong showing this page");
    expect(html).toMatch(/<button type="button">Reload<\/button>/);
  });
});
