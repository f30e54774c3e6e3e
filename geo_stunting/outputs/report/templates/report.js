(function () {
  var root = document.documentElement;
  var known = (root.getAttribute("data-languages") || "").split(" ");
  function set(lang) { root.setAttribute("data-lang", lang); root.setAttribute("lang", lang); }
  var asked = new URLSearchParams(window.location.search).get("lang");
  if (known.indexOf(asked) >= 0) { set(asked); }
  var buttons = document.querySelectorAll(".lang-button");
  for (var i = 0; i < buttons.length; i++) {
    buttons[i].addEventListener("click", function (event) {
      set(event.currentTarget.getAttribute("data-set"));
    });
  }
})();
