// A form whose submit runs an action with its fields: the button waits meanwhile, a failure is
// shown in the form's .form-error alert (in the user's language).

import { errorText } from "../errors.js";

/** On submit: `action(fields)`, then `done(result)`; the form is reset after a success. */
export function onSubmit(form, action, done = () => {}) {
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const error = form.querySelector(".form-error");
    const button = form.querySelector("[type=submit]");
    error.textContent = "";
    button.disabled = true;
    try {
      const result = await action(Object.fromEntries(new FormData(form)));
      form.reset();
      done(result);
    } catch (failure) {
      error.textContent = errorText(failure);
    } finally {
      button.disabled = false;
    }
  });
}
