// One line of text that changes often (a task's status): its text is replaced in place, with
// no re-render of the element and no new layout of the page around it.
export function render({ model }) {
  const line = document.createElement("span");
  line.className = "text-line";
  line.textContent = model.text;
  model.on("text", () => { line.textContent = model.text; });
  return line;
}
