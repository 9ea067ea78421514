// The last line of defence around the dashboards: an error while rendering (say, from a record whose
// content nobody expected) shows a plain message and a reload button, not a blank page.
import { Component, type ErrorInfo, type ReactNode } from "react";

export function CrashNotice({ onReload }: { onReload: () => void }) {
  return (
    <section className="card screen" role="alert" aria-labelledby="crash-h" data-crashed="true">
      <h2 id="crash-h">Something went wrong showing this page</h2>
      <p>Reload the page to try again. If this keeps happening, one of the records shown here may be malformed.</p>
      <button type="button" onClick={onReload}>
        Reload
      </button>
    </section>
  );
}

export class ErrorBoundary extends Component<{ children: ReactNode }, { failed: boolean }> {
  state = { failed: false };

  static getDerivedStateFromError(): { failed: boolean } {
    return { failed: true };
  }

  componentDidCatch(error: unknown, info: ErrorInfo) {
    console.error("the dashboard failed to render", error, info.componentStack);
  }

  render() {
    return this.state.failed ? <CrashNotice onReload={() => window.location.reload()} /> : this.props.children;
  }
}
