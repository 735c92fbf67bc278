// PoseMotion frontend extension: shows each node's short run summary (its ui "text") under the node,
// e.g. "person found in 46/48 frames" on Detect Pose. Loaded by ComfyUI through WEB_DIRECTORY.
const { app } = window.comfyAPI.app;

const SUMMARY = "posemotion_summary";

function showSummary(node, text) {
  let widget = node.widgets?.find((w) => w.name === SUMMARY);
  if (!widget) {
    const element = document.createElement("div");
    element.style.cssText = "font: 12px monospace; opacity: 0.8; padding: 2px 6px; white-space: pre-wrap;";
    widget = node.addDOMWidget(SUMMARY, "posemotion_summary", element, { serialize: false });
    widget.serialize = false; // never saved into widgets_values
  }
  widget.element.textContent = text;
  node.setDirtyCanvas(true, true);
}

app.registerExtension({
  name: "PoseMotion.RunSummary",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData.name.startsWith("PoseMotion")) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (message) {
      onExecuted?.apply(this, arguments);
      const text = message?.text?.join("\n");
      if (text) showSummary(this, text);
    };
  },
});
