/* The course site's one script: a keyboard reaches every block that scrolls (WCAG 2.1.1, axe's
   rule scrollable-region-focusable). A code cell, an output, a formula or a table that is wider
   (or taller) than its box takes focus (tabindex 0), so that arrow keys scroll it, and is named as
   a region for screen readers. Only blocks that do scroll: the others stay out of the Tab order.
   Checked again after MathJax has typeset the formulas and when the window is resized. In such a
   block the left and right arrow keys scroll it, instead of turning the page (Sphinx's
   navigation_with_keys, which applies everywhere else). */
(() => {
  "use strict";
  const BLOCKS = "pre, div.math, mjx-container[display='true'], .math-wrapper, .table-wrapper";
  const MARK = "courseScrolls";

  function scrolls(element) {
    const style = getComputedStyle(element);
    const sideways = element.scrollWidth > element.clientWidth + 1 && /auto|scroll/.test(style.overflowX);
    const down = element.scrollHeight > element.clientHeight + 1 && /auto|scroll/.test(style.overflowY);
    return sideways || down;
  }

  function keepArrowsHere(event) {
    if (event.key === "ArrowLeft" || event.key === "ArrowRight") event.stopPropagation();
  }

  function nameOf(element) {
    if (element.closest(".cell_output")) return "cell output (scrolls)";
    if (element.closest(".cell_input")) return "code cell (scrolls)";
    if (element.matches("pre")) return "code (scrolls)";
    if (element.closest(".table-wrapper")) return "table (scrolls)";
    return "formula (scrolls)";
  }

  function markScrollingBlocks() {
    for (const element of document.querySelectorAll(BLOCKS)) {
      const marked = element.dataset[MARK] === "1";
      if (scrolls(element)) {
        if (marked || element.hasAttribute("tabindex")) continue;
        element.tabIndex = 0;
        if (!element.hasAttribute("role")) element.setAttribute("role", "region");
        if (!element.hasAttribute("aria-label")) element.setAttribute("aria-label", nameOf(element));
        element.addEventListener("keydown", keepArrowsHere);
        element.dataset[MARK] = "1";
      } else if (marked) {
        element.removeAttribute("tabindex");
        if (element.getAttribute("role") === "region") element.removeAttribute("role");
        element.removeAttribute("aria-label");
        element.removeEventListener("keydown", keepArrowsHere);
        delete element.dataset[MARK];
      }
    }
  }

  let pending = 0;
  window.addEventListener("resize", () => {
    clearTimeout(pending);
    pending = setTimeout(markScrollingBlocks, 150);
  });
  document.addEventListener("DOMContentLoaded", markScrollingBlocks);
  window.addEventListener("load", () => {
    markScrollingBlocks();
    window.MathJax?.startup?.promise?.then(markScrollingBlocks);
  });
})();
