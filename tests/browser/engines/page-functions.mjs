// What every engine runs in the page: the test's function (its source) called with its argument. Indirect eval
// makes the source a function in the page's global scope, whatever the engine's own evaluate does with closures.
export const runInPage = ([src, value]) => (0, eval)(`(${src})`)(value);

// How long an action waits for its element to be rendered, as Playwright's default action timeout.
export const ACTION_TIMEOUT_MS = 30000;
export const ELEMENT_THERE = '(selector) => document.querySelector(selector) !== null';

// Empty a text field with one input event, as Playwright's fill does before typing (a cleared search must
// reach the page's listeners in every engine).
export const clearField = (selector) => {
  const field = document.querySelector(selector);
  field.focus();
  field.value = '';
  field.dispatchEvent(new Event('input', { bubbles: true }));
};

// Choose an option of a <select> as Playwright's selectOption does: by value (the property: Preact sets it so),
// then input and change events.
export const selectOption = ([selector, value]) => {
  const field = document.querySelector(selector);
  const option = [...field.options].find((candidate) => candidate.value === value);
  if (!option) throw new Error(`${selector} has no option ${value}`);
  field.value = value;
  field.dispatchEvent(new Event('input', { bubbles: true }));
  field.dispatchEvent(new Event('change', { bubbles: true }));
};
